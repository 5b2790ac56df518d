import CKernels
import OniCore

/// 2-D convolution, stride 1, zero padding, over channel-first inputs
/// [batch, channels, height, width] → [batch, filters, height', width'],
/// computed directly ("same" padding in Float32 where `Kernels.run`: `oni_conv_forward`, no
/// im2col copy, no packing) or as im2col + one matrix product per chunk of examples.
/// A 1-D convolution over [batch, channels, length] is the height-1 case
/// (`init(name:channels:length:…)`). With `activation: .elu` the output is ELU(conv) in one
/// layer: the activation is applied while each block of output is still in registers (direct)
/// or each chunk's product in cache (im2col), and its derivative in one pass on the way back.
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
    /// ELU applied to the convolution's output (nil: none).
    public let activation: Activation<S>.Kind?
    /// Examples unfolded at once. Each chunk's im2col block ([channels·kh·kw, chunk·oh·ow],
    /// about `columnBudget` elements) stays in cache from the unfold through its two or three
    /// matrix products; unfolding a whole batch at once streamed ~100 MB through memory per pass.
    public let chunk: Int
    /// Whether the forward pass and the input gradient run the direct kernel (Float32, "same"
    /// padding, `Kernels.run`); the weight gradient is always im2col + a matrix product (its inner
    /// dimension is long: a direct version measured no faster).
    public let direct: Bool
    /// Elements of one chunk's im2col block the chunk size aims at (256 KiB of Float32).
    public static var columnBudget: Int { 1 << 16 }
    /// The last forward's input (backward unfolds it again, chunk by chunk; let go after it) and batch size.
    private var input: [S] = []
    private var batch = 0
    /// The output and the input gradient, kept between passes (see `Array.reuse(count:)`).
    private var output: [S] = []
    private var inputGradient: [S] = []
    /// Scratch of one chunk, kept between passes: the unfolded input [patch, stride], the product or
    /// reordered output gradient [filters, stride] and the input-side gradient [patch, stride],
    /// stride = chunk·oh·ow. Every chunk uses the same layout, so padding elements stay zero.
    private var columns: [S] = []
    private var product: [S] = []
    private var dColumns: [S] = []
    /// The output gradient through ELU's derivative, [batch, filters, positions], and the weights
    /// flipped and transposed for the input gradient's convolution, [channels, filters, kh, kw].
    private var dPreActivation: [S] = []
    private var flipped: [S] = []
    /// The direct kernel's scratch (`oni_conv_workspace_bytes`), kept between passes.
    private var workspace: [Float] = []
    /// stride ones, for the bias gradient.
    private var ones: [S] = []
    /// The im2col copy as runs: column row `row`, position `position` onwards holds
    /// `length` consecutive input elements of one example from offset `input`.
    private struct Run {
        var row: Int, position: Int, input: Int, length: Int
    }
    private var runs: [Run] = []
    /// A column element inside a run that stands for padding.
    private struct Wrap {
        var row: Int, position: Int
    }
    private var wraps: [Wrap] = []

    /// A square `kernel` with `padding` on every side; weight shape [filters, channels, kernel, kernel].
    public convenience init(
        name: String, channels: Int, height: Int, width: Int, filters: Int, kernel: Int, padding: Int,
        activation: Activation<S>.Kind? = nil, gain: Double = 2.0.squareRoot(), direct: Bool = true, rng: inout SeededGenerator
    ) {
        self.init(
            name: name, channels: channels, height: height, width: width, filters: filters, kernel: (kernel, kernel),
            padding: (padding, padding), weightShape: [filters, channels, kernel, kernel], activation: activation, gain: gain,
            direct: direct, rng: &rng)
    }

    /// 1-D: `kernel` taps along `length` with `padding` at both ends; weight shape [filters, channels, kernel] (PyTorch's Conv1d).
    public convenience init(
        name: String, channels: Int, length: Int, filters: Int, kernel: Int, padding: Int,
        activation: Activation<S>.Kind? = nil, gain: Double = 2.0.squareRoot(), direct: Bool = true, rng: inout SeededGenerator
    ) {
        self.init(
            name: name, channels: channels, height: 1, width: length, filters: filters, kernel: (1, kernel),
            padding: (0, padding), weightShape: [filters, channels, kernel], activation: activation, gain: gain, direct: direct, rng: &rng)
    }

    private convenience init(
        name: String, channels: Int, height: Int, width: Int, filters: Int, kernel: (height: Int, width: Int),
        padding: (height: Int, width: Int), weightShape: [Int], activation: Activation<S>.Kind?, gain: Double, direct: Bool,
        rng: inout SeededGenerator
    ) {
        let fanIn = channels * kernel.height * kernel.width
        self.init(
            channels: channels, height: height, width: width, filters: filters, kernel: kernel, padding: padding,
            weight: Parameter(
                name: "\(name).weight", shape: weightShape,
                value: Initialization.orthogonal(rows: filters, columns: fanIn, gain: gain, rng: &rng)),
            bias: Parameter(name: "\(name).bias", shape: [filters], value: [S](repeating: 0, count: filters)),
            activation: activation, direct: direct)
    }

    /// The same convolution over inputs `width` wide: it shares this layer's parameters (its
    /// gradients add into theirs) and keeps buffers of its own.
    public func resized(width: Int) -> Conv2d {
        Conv2d(
            channels: channels, height: height, width: width, filters: filters, kernel: (kernelHeight, kernelWidth),
            padding: (paddingHeight, paddingWidth), weight: weight, bias: bias, activation: activation, direct: direct)
    }

    private init(
        channels: Int, height: Int, width: Int, filters: Int, kernel: (height: Int, width: Int), padding: (height: Int, width: Int),
        weight: Parameter<S>, bias: Parameter<S>, activation: Activation<S>.Kind?, direct: Bool
    ) {
        self.direct =
            direct && S.self == Float.self && Kernels.run && 2 * padding.height == kernel.height - 1 && 2 * padding.width == kernel.width - 1
        precondition(activation == nil || activation == .elu, "Conv2d: only ELU is fused")
        self.activation = activation
        precondition(
            height + 2 * padding.height >= kernel.height && width + 2 * padding.width >= kernel.width,
            "Conv2d: kernel larger than the padded input")
        self.channels = channels
        self.height = height
        self.width = width
        self.filters = filters
        (kernelHeight, kernelWidth) = kernel
        (paddingHeight, paddingWidth) = padding
        self.weight = weight
        self.bias = bias
        let patch = channels * kernel.height * kernel.width
        let positions = (height + 2 * padding.height - kernel.height + 1) * (width + 2 * padding.width - kernel.width + 1)
        chunk = max(1, Self.columnBudget / max(1, patch * positions))
        (runs, wraps) = makeRuns()
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ input: [S], batch: Int) -> [S] {
        precondition(input.count == batch * inputSize, "Conv2d: input size mismatch")
        self.input = input
        self.batch = batch
        let patch = channels * kernelHeight * kernelWidth, positions = outputHeight * outputWidth, stride = chunk * positions
        prepareScratch(patch: patch, stride: stride)
        output.reuse(count: batch * outputSize)
        let elu = activation == .elu
        if direct {
            convolve(
                input, weight.value, bias: bias.value, into: &output, batch: batch, channels: channels, height: height, width: width,
                filters: filters, kernel: (kernelHeight, kernelWidth), padding: (paddingHeight, paddingWidth), elu: elu)
            return output
        }
        input.withUnsafeBufferPointer { src in
            columns.withUnsafeMutableBufferPointer { cols in
                product.withUnsafeMutableBufferPointer { prod in
                    output.withUnsafeMutableBufferPointer { out in
                        weight.value.withUnsafeBufferPointer { w in
                            for first in Swift.stride(from: 0, to: batch, by: chunk) {
                                let rows = min(chunk, batch - first)
                                unfold(src, first: first, rows: rows, into: cols, stride: stride)
                                // [filters, rows·positions] = W · columns
                                S.gemm(
                                    transposeA: false, transposeB: false, m: filters, n: rows * positions, k: patch, alpha: 1,
                                    a: w.baseAddress!, lda: patch, b: cols.baseAddress!, ldb: stride, beta: 0, c: prod.baseAddress!, ldc: stride)
                                // + bias (then ELU, in place, while in cache), reordered to [batch, filters, positions].
                                for e in 0..<rows {
                                    for f in 0..<filters {
                                        let b = bias.value[f]
                                        let source = prod.baseAddress! + (f * stride + e * positions)
                                        let target = out.baseAddress! + ((first + e) * outputSize + f * positions)
                                        for p in 0..<positions { target[p] = source[p] + b }
                                        if elu { S.elu(target, target, count: positions) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) -> [S] {
        let patch = channels * kernelHeight * kernelWidth, positions = outputHeight * outputWidth, stride = chunk * positions
        prepareScratch(patch: patch, stride: stride)
        let batch = self.batch
        defer { input = [] }  // the producer's buffer is its own again
        // dLoss/d(pre-activation): through ELU's derivative, eˣ = y + 1 where x ≤ 0.
        if activation == .elu {
            dPreActivation.reuse(count: batch * outputSize)
            output.withUnsafeBufferPointer { y in
                outputGradient.withUnsafeBufferPointer { g in
                    dPreActivation.withUnsafeMutableBufferPointer { d in
                        for i in 0..<d.count { d[i] = y[i] > 0 ? g[i] : g[i] * (y[i] + 1) }
                    }
                }
            }
        }
        let dZ = activation == .elu ? dPreActivation : outputGradient
        if direct { inputGradient.reuse(count: batch * inputSize) } else { inputGradient.reuseZeroed(count: batch * inputSize) }
        dZ.withUnsafeBufferPointer { dZ in
        input.withUnsafeBufferPointer { src in
        columns.withUnsafeMutableBufferPointer { cols in
        product.withUnsafeMutableBufferPointer { dZT in
        dColumns.withUnsafeMutableBufferPointer { dCols in
        inputGradient.withUnsafeMutableBufferPointer { dIn in
        weight.value.withUnsafeBufferPointer { w in
        weight.gradient.withUnsafeMutableBufferPointer { dW in
        bias.gradient.withUnsafeMutableBufferPointer { dB in
            for first in Swift.stride(from: 0, to: batch, by: chunk) {
                let rows = min(chunk, batch - first), wide = rows * positions
                // dZ reordered to [filters, rows·positions], then the bias gradient as one
                // matrix-vector product with ones.
                for e in 0..<rows {
                    for f in 0..<filters {
                        (dZT.baseAddress! + (f * stride + e * positions)).update(
                            from: dZ.baseAddress! + ((first + e) * outputSize + f * positions), count: positions)
                    }
                }
                ones.withUnsafeBufferPointer { one in
                    S.gemm(
                        transposeA: false, transposeB: false, m: filters, n: 1, k: wide, alpha: 1,
                        a: dZT.baseAddress!, lda: stride, b: one.baseAddress!, ldb: 1, beta: 1, c: dB.baseAddress!, ldc: 1)
                }
                unfold(src, first: first, rows: rows, into: cols, stride: stride)
                // dW += dZ · columnsᵀ
                S.gemm(
                    transposeA: false, transposeB: true, m: filters, n: patch, k: wide, alpha: 1,
                    a: dZT.baseAddress!, lda: stride, b: cols.baseAddress!, ldb: stride, beta: 1, c: dW.baseAddress!, ldc: patch)
                guard !direct else { continue }
                // dColumns = Wᵀ · dZ, then col2im: add each run back where it came from.
                S.gemm(
                    transposeA: true, transposeB: false, m: patch, n: wide, k: filters, alpha: 1,
                    a: w.baseAddress!, lda: patch, b: dZT.baseAddress!, ldb: stride, beta: 0, c: dCols.baseAddress!, ldc: stride)
                runs.withUnsafeBufferPointer { runs in
                    wraps.withUnsafeBufferPointer { wraps in
                        for e in 0..<rows {
                            let target = dIn.baseAddress! + (first + e) * inputSize
                            for wrap in wraps { dCols[e * positions + wrap.row * stride + wrap.position] = 0 }
                            let source = UnsafePointer(dCols.baseAddress! + e * positions)
                            for run in runs {
                                let d = target + run.input, c = source + (run.row * stride + run.position)
                                for i in 0..<run.length { d[i] += c[i] }
                            }
                        }
                    }
                }
            }
        } } } } } } } } }
        if direct {
            // The input gradient is the convolution of dZ with the weights flipped in both axes
            // and transposed (filters ↔ channels), padded by kernel − 1 − padding.
            let (kh, kw) = (kernelHeight, kernelWidth)
            flipped.reuse(count: weight.count)
            weight.value.withUnsafeBufferPointer { w in
                flipped.withUnsafeMutableBufferPointer { t in
                    for f in 0..<filters {
                        for c in 0..<channels {
                            for ky in 0..<kh {
                                for kx in 0..<kw { t[((c * filters + f) * kh + ky) * kw + kx] = w[((f * channels + c) * kh + kh - 1 - ky) * kw + kw - 1 - kx] }
                            }
                        }
                    }
                }
            }
            convolve(
                dZ, flipped, bias: nil, into: &inputGradient, batch: batch, channels: filters, height: outputHeight, width: outputWidth,
                filters: channels, kernel: (kh, kw), padding: (kh - 1 - paddingHeight, kw - 1 - paddingWidth), elu: false)
        }
        return inputGradient
    }

    /// The direct kernel over a batch ("same" padding); only where `direct` (S is Float32).
    private func convolve(
        _ x: [S], _ w: [S], bias: [S]?, into out: inout [S], batch: Int, channels: Int, height: Int, width: Int, filters: Int,
        kernel: (Int, Int), padding: (Int, Int), elu: Bool
    ) {
        func floats(_ p: UnsafeBufferPointer<S>) -> UnsafePointer<Float> { UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: Float.self) }
        x.withUnsafeBufferPointer { x in
            w.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { o in
                    let target = UnsafeMutableRawPointer(o.baseAddress!).assumingMemoryBound(to: Float.self)
                    let bytes = oni_conv_workspace_bytes(Int32(channels), Int32(height), Int32(width), Int32(filters), Int32(kernel.0), Int32(kernel.1))
                    let needed = (bytes + 3) / 4
                    if workspace.count < needed { workspace = [Float](repeating: 0, count: needed) }
                    workspace.withUnsafeMutableBytes { scratch in
                        let run = { (b: UnsafePointer<Float>?) in
                            oni_conv_forward(
                                floats(x), floats(w), b, target, Int32(batch), Int32(channels), Int32(height), Int32(width), Int32(filters),
                                Int32(kernel.0), Int32(kernel.1), Int32(padding.0), Int32(padding.1), elu ? 1 : 0, scratch.baseAddress!)
                        }
                        if let bias { bias.withUnsafeBufferPointer { run(floats($0)) } } else { run(nil) }
                    }
                }
            }
        }
    }

    /// Sizes the chunk scratch once (zeroed: padding elements of `columns` are never written;
    /// `dColumns` only for col2im, which the direct kernel replaces).
    private func prepareScratch(patch: Int, stride: Int) {
        guard columns.count != patch * stride else { return }
        columns = [S](repeating: 0, count: patch * stride)
        product = [S](repeating: 0, count: filters * stride)
        dColumns = direct ? [] : [S](repeating: 0, count: patch * stride)
        ones = [S](repeating: 1, count: stride)
    }

    /// im2col of examples first..<first+rows into `columns` ([patch, stride]).
    @inline(__always)
    private func unfold(_ src: UnsafeBufferPointer<S>, first: Int, rows: Int, into columns: UnsafeMutableBufferPointer<S>, stride: Int) {
        let positions = outputHeight * outputWidth
        runs.withUnsafeBufferPointer { runs in
            wraps.withUnsafeBufferPointer { wraps in
                for e in 0..<rows {
                    let from = src.baseAddress! + (first + e) * inputSize, to = columns.baseAddress! + e * positions
                    for run in runs { (to + (run.row * stride + run.position)).update(from: from + run.input, count: run.length) }
                    for wrap in wraps { to[wrap.row * stride + wrap.position] = 0 }
                }
            }
        }
    }

    /// Every run of elements where column element (row, position + i) is input element
    /// `input + i` of one example (im2col copies along these runs, col2im adds back along them),
    /// and the column elements inside a run that stand for padding (`wraps`: zeroed after the
    /// copy, and in the gradient before the add).
    ///
    /// With "same" padding (an output as wide as the input) the kernel tap (ky, kx) reads the
    /// whole input plane shifted by (ky − ph)·w + kx − pw, so each column row is one long run;
    /// the elements that wrapped around a row's edge are the wraps. Otherwise one run per output
    /// row (runs of a row's width: short on maps of 7–13 cells, where a copy call per run cost
    /// more than the copying).
    private func makeRuns() -> (runs: [Run], wraps: [Wrap]) {
        let (h, w, kh, kw, ph, pw) = (height, width, kernelHeight, kernelWidth, paddingHeight, paddingWidth)
        let (oh, ow) = (outputHeight, outputWidth)
        var runs: [Run] = [], wraps: [Wrap] = []
        for c in 0..<channels {
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let row = (c * kh + ky) * kw + kx
                    let dy = ky - ph, dx = kx - pw
                    let yStart = max(0, -dy), yEnd = min(oh, h - dy)
                    guard yEnd > yStart else { continue }
                    if ow == w {
                        let start = yStart * ow + max(0, -dx), end = yEnd * ow - max(0, dx)
                        guard end > start else { continue }
                        runs.append(Run(row: row, position: start, input: c * h * w + start + dy * w + dx, length: end - start))
                        for oy in yStart..<yEnd {
                            for ox in 0..<ow where ox + dx < 0 || ox + dx >= w {
                                let position = oy * ow + ox
                                if position >= start && position < end { wraps.append(Wrap(row: row, position: position)) }
                            }
                        }
                    } else {
                        let xStart = max(0, -dx), xEnd = min(ow, w - dx)
                        guard xEnd > xStart else { continue }
                        for oy in yStart..<yEnd {
                            runs.append(Run(row: row, position: oy * ow + xStart, input: (c * h + oy + dy) * w + xStart + dx, length: xEnd - xStart))
                        }
                    }
                }
            }
        }
        return (runs, wraps)
    }
}
