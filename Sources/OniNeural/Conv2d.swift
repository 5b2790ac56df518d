import OniCore

/// 2-D convolution, stride 1, zero padding, over channel-first inputs
/// [batch, channels, height, width] → [batch, filters, height', width'],
/// computed as im2col + one matrix product per example.
public final class Conv2d<S: Scalar>: Layer {
    public let channels: Int, height: Int, width: Int
    public let filters: Int, kernel: Int, padding: Int
    public let weight: Parameter<S>  // [filters, channels × kernel × kernel]
    public let bias: Parameter<S>  // [filters]
    public var outputHeight: Int { height + 2 * padding - kernel + 1 }
    public var outputWidth: Int { width + 2 * padding - kernel + 1 }
    public var inputSize: Int { channels * height * width }
    public var outputSize: Int { filters * outputHeight * outputWidth }
    public var parameters: [Parameter<S>] { [weight, bias] }
    private var columns: [[S]] = []  // per example: [channels·k·k, oh·ow]
    private var batch = 0

    public init(
        name: String, channels: Int, height: Int, width: Int, filters: Int, kernel: Int, padding: Int,
        gain: Double = 2.0.squareRoot(), rng: inout SeededGenerator
    ) {
        precondition(height + 2 * padding >= kernel && width + 2 * padding >= kernel, "Conv2d: kernel larger than the padded input")
        self.channels = channels
        self.height = height
        self.width = width
        self.filters = filters
        self.kernel = kernel
        self.padding = padding
        let fanIn = channels * kernel * kernel
        weight = Parameter(
            name: "\(name).weight", shape: [filters, channels, kernel, kernel],
            value: Initialization.orthogonal(rows: filters, columns: fanIn, gain: gain, rng: &rng))
        bias = Parameter(name: "\(name).bias", shape: [filters], value: [S](repeating: 0, count: filters))
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ input: [S], batch: Int) -> [S] {
        precondition(input.count == batch * inputSize, "Conv2d: input size mismatch")
        self.batch = batch
        let patch = channels * kernel * kernel, positions = outputHeight * outputWidth
        columns = (0..<batch).map { b in im2col(input, example: b) }
        var output = [S](repeating: 0, count: batch * outputSize)
        var one = [S](repeating: 0, count: filters * positions)
        for b in 0..<batch {
            for f in 0..<filters {
                for p in 0..<positions { one[f * positions + p] = bias.value[f] }
            }
            MatMul.multiply(weight.value, columns[b], into: &one, m: filters, n: positions, k: patch, accumulate: true)
            for i in 0..<(filters * positions) { output[b * outputSize + i] = one[i] }
        }
        return output
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) -> [S] {
        let patch = channels * kernel * kernel, positions = outputHeight * outputWidth
        var inputGradient = [S](repeating: 0, count: batch * inputSize)
        var columnGradient = [S](repeating: 0, count: patch * positions)
        for b in 0..<batch {
            let dOut = Array(outputGradient[(b * outputSize)..<((b + 1) * outputSize)])
            for f in 0..<filters {
                var sum: S = 0
                for p in 0..<positions { sum += dOut[f * positions + p] }
                bias.gradient[f] += sum
            }
            // dW += dOut · colsᵀ ; dCols = Wᵀ · dOut
            MatMul.multiply(dOut, columns[b], into: &weight.gradient, m: filters, n: patch, k: positions, transposeB: true, accumulate: true)
            MatMul.multiply(weight.value, dOut, into: &columnGradient, m: patch, n: positions, k: filters, transposeA: true)
            col2im(columnGradient, into: &inputGradient, example: b)
        }
        return inputGradient
    }

    /// Calls `body(column, input, length)` for every run of `length` elements where
    /// column element `column + i` is input element `input + i` of one example
    /// (im2col copies along these runs, col2im adds back along them).
    private func forEachRun(_ body: (_ column: Int, _ input: Int, _ length: Int) -> Void) {
        let (h, w, k, p) = (height, width, kernel, padding)
        let (oh, ow) = (outputHeight, outputWidth)
        let positions = oh * ow
        for c in 0..<channels {
            for ky in 0..<k {
                for kx in 0..<k {
                    let row = ((c * k + ky) * k + kx) * positions
                    let xStart = max(0, p - kx), xEnd = min(ow, w + p - kx)
                    guard xEnd > xStart else { continue }
                    for oy in 0..<oh {
                        let y = oy + ky - p
                        guard y >= 0 && y < h else { continue }
                        body(row + oy * ow + xStart, (c * h + y) * w + xStart + kx - p, xEnd - xStart)
                    }
                }
            }
        }
    }

    /// Unfolds one example into columns [channels·k·k, oh·ow] (zeros where the kernel overhangs).
    private func im2col(_ input: [S], example b: Int) -> [S] {
        var cols = [S](repeating: 0, count: channels * kernel * kernel * outputHeight * outputWidth)
        let base = b * inputSize
        input.withUnsafeBufferPointer { src in
            cols.withUnsafeMutableBufferPointer { dst in
                forEachRun { column, input, length in
                    for i in 0..<length { dst[column + i] = src[base + input + i] }
                }
            }
        }
        return cols
    }

    /// Folds column gradients back onto one example's input gradient (adding overlaps).
    private func col2im(_ cols: [S], into gradient: inout [S], example b: Int) {
        let base = b * inputSize
        cols.withUnsafeBufferPointer { src in
            gradient.withUnsafeMutableBufferPointer { dst in
                forEachRun { column, input, length in
                    for i in 0..<length { dst[base + input + i] += src[column + i] }
                }
            }
        }
    }
}
