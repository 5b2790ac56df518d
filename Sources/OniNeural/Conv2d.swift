import OniCore

/// 2-D convolution, stride 1, zero padding, over channel-first inputs
/// [batch, channels, height, width] → [batch, filters, height', width'],
/// computed as im2col + one matrix product over the whole batch per pass.
/// A 1-D convolution over [batch, channels, length] is the height-1 case
/// (`init(name:channels:length:…)`).
public final class Conv2d<S: Scalar>: Layer {
    public let channels: Int, height: Int, width: Int
    public let filters: Int, kernelHeight: Int, kernelWidth: Int, paddingHeight: Int, paddingWidth: Int
    public let weight: Parameter<S>  // [filters, channels × kernelHeight × kernelWidth]
    public let bias: Parameter<S>  // [filters]
    public var outputHeight: Int { height + 2 * paddingHeight - kernelHeight + 1 }
    public var outputWidth: Int { width + 2 * paddingWidth - kernelWidth + 1 }
    public var inputSize: Int { channels * height * width }
    public var outputSize: Int { filters * outputHeight * outputWidth }
    public var parameters: [Parameter<S>] { [weight, bias] }
    /// The whole batch unfolded: [channels·kh·kw, batch·oh·ow], so each pass is one matrix product.
    private var columns: [S] = []
    private var batch = 0
    /// The im2col copy as runs: column row `row`, position `position` onwards holds
    /// `length` consecutive input elements of one example from offset `input`.
    private struct Run {
        var row: Int, position: Int, input: Int, length: Int
    }
    private var runs: [Run] = []

    /// A square `kernel` with `padding` on every side; weight shape [filters, channels, kernel, kernel].
    public convenience init(
        name: String, channels: Int, height: Int, width: Int, filters: Int, kernel: Int, padding: Int,
        gain: Double = 2.0.squareRoot(), rng: inout SeededGenerator
    ) {
        self.init(
            name: name, channels: channels, height: height, width: width, filters: filters, kernel: (kernel, kernel),
            padding: (padding, padding), weightShape: [filters, channels, kernel, kernel], gain: gain, rng: &rng)
    }

    /// 1-D: `kernel` taps along `length` with `padding` at both ends; weight shape [filters, channels, kernel] (PyTorch's Conv1d).
    public convenience init(
        name: String, channels: Int, length: Int, filters: Int, kernel: Int, padding: Int,
        gain: Double = 2.0.squareRoot(), rng: inout SeededGenerator
    ) {
        self.init(
            name: name, channels: channels, height: 1, width: length, filters: filters, kernel: (1, kernel),
            padding: (0, padding), weightShape: [filters, channels, kernel], gain: gain, rng: &rng)
    }

    private init(
        name: String, channels: Int, height: Int, width: Int, filters: Int, kernel: (height: Int, width: Int),
        padding: (height: Int, width: Int), weightShape: [Int], gain: Double, rng: inout SeededGenerator
    ) {
        precondition(
            height + 2 * padding.height >= kernel.height && width + 2 * padding.width >= kernel.width,
            "Conv2d: kernel larger than the padded input")
        self.channels = channels
        self.height = height
        self.width = width
        self.filters = filters
        (kernelHeight, kernelWidth) = kernel
        (paddingHeight, paddingWidth) = padding
        let fanIn = channels * kernel.height * kernel.width
        weight = Parameter(
            name: "\(name).weight", shape: weightShape,
            value: Initialization.orthogonal(rows: filters, columns: fanIn, gain: gain, rng: &rng))
        bias = Parameter(name: "\(name).bias", shape: [filters], value: [S](repeating: 0, count: filters))
        runs = makeRuns()
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ input: [S], batch: Int) -> [S] {
        precondition(input.count == batch * inputSize, "Conv2d: input size mismatch")
        self.batch = batch
        let patch = channels * kernelHeight * kernelWidth, positions = outputHeight * outputWidth, wide = batch * positions
        // The buffer is kept between passes of the same size: the runs below write every
        // element that is not padding, and padding elements stay zero from the first allocation.
        if columns.count != patch * wide { columns = [S](repeating: 0, count: patch * wide) }
        input.withUnsafeBufferPointer { src in
            columns.withUnsafeMutableBufferPointer { dst in
                let (from, to) = (src.baseAddress!, dst.baseAddress!)
                for b in 0..<batch {
                    let base = b * inputSize, offset = b * positions
                    // In the batch layout a column row's stride is `wide`.
                    for run in runs {
                        (to + run.row * wide + offset + run.position).update(from: from + base + run.input, count: run.length)
                    }
                }
            }
        }
        // [filters, batch·positions] = W · columns, then bias, then reorder to [batch, filters, positions].
        var product = [S](repeating: 0, count: filters * wide)
        MatMul.multiply(weight.value, columns, into: &product, m: filters, n: wide, k: patch)
        var output = [S](repeating: 0, count: batch * outputSize)
        for f in 0..<filters {
            let bias = self.bias.value[f]
            for b in 0..<batch {
                let from = f * wide + b * positions, to = b * outputSize + f * positions
                for p in 0..<positions { output[to + p] = product[from + p] + bias }
            }
        }
        return output
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) -> [S] {
        let patch = channels * kernelHeight * kernelWidth, positions = outputHeight * outputWidth, wide = batch * positions
        // dOut reordered to [filters, batch·positions].
        var dOut = [S](repeating: 0, count: filters * wide)
        for f in 0..<filters {
            var sum: S = 0
            for b in 0..<batch {
                let from = b * outputSize + f * positions, to = f * wide + b * positions
                for p in 0..<positions {
                    let g = outputGradient[from + p]
                    dOut[to + p] = g
                    sum += g
                }
            }
            bias.gradient[f] += sum
        }
        // dW += dOut · columnsᵀ ; dColumns = Wᵀ · dOut
        MatMul.multiply(dOut, columns, into: &weight.gradient, m: filters, n: patch, k: wide, transposeB: true, accumulate: true)
        var dColumns = [S](repeating: 0, count: patch * wide)
        MatMul.multiply(weight.value, dOut, into: &dColumns, m: patch, n: wide, k: filters, transposeA: true)
        var inputGradient = [S](repeating: 0, count: batch * inputSize)
        dColumns.withUnsafeBufferPointer { src in
            inputGradient.withUnsafeMutableBufferPointer { dst in
                for b in 0..<batch {
                    let base = b * inputSize, offset = b * positions
                    for run in runs {
                        let from = run.row * wide + offset + run.position, to = base + run.input
                        for i in 0..<run.length { dst[to + i] += src[from + i] }
                    }
                }
            }
        }
        return inputGradient
    }

    /// Every run of elements where column element (row, position + i) is input
    /// element `input + i` of one example (im2col copies along these runs, col2im adds back along them).
    private func makeRuns() -> [Run] {
        let (h, w, kh, kw, ph, pw) = (height, width, kernelHeight, kernelWidth, paddingHeight, paddingWidth)
        let (oh, ow) = (outputHeight, outputWidth)
        var runs: [Run] = []
        for c in 0..<channels {
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let row = (c * kh + ky) * kw + kx
                    let xStart = max(0, pw - kx), xEnd = min(ow, w + pw - kx)
                    guard xEnd > xStart else { continue }
                    for oy in 0..<oh {
                        let y = oy + ky - ph
                        guard y >= 0 && y < h else { continue }
                        runs.append(Run(row: row, position: oy * ow + xStart, input: (c * h + y) * w + xStart + kx - pw, length: xEnd - xStart))
                    }
                }
            }
        }
        return runs
    }
}
