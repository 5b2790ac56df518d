import OniCore

/// y = [x₁ x₂ …] Wᵀ + b over inputs given as column blocks, without joining them: one matrix
/// product per block against its columns of W, and dX of each block written where its producer
/// reads it. The same function, weights and checkpoint layout as a `Linear` over the joined
/// input (W [out, Σ widths], PyTorch's layout), minus the copies into and out of the joined
/// buffer (~6% of a grid GRU update at batch 1024, where the convolutions' features are most of
/// a joined row).
public final class BlockLinear<S: Scalar> {
    /// Each block's width, in the order of W's columns.
    public let widths: [Int]
    public let outputSize: Int
    public var inputSize: Int { widths.reduce(0, +) }
    public let weight: Parameter<S>
    public let bias: Parameter<S>
    public var parameters: [Parameter<S>] { [weight, bias] }
    /// Blocks whose gradient nobody reads (inputs of the network, such as the status vector).
    public let constant: Set<Int>
    /// The last forward's blocks (let go after backward) and batch size.
    private var inputs: [[S]] = []
    private var batch = 0
    /// The output and each block's gradient, kept between passes (see `Array.reuse(count:)`).
    private var output: [S] = []
    private var inputGradients: [[S]]

    /// Orthogonal weights over the whole joined width scaled by `gain`, zero bias: the same
    /// draw as `Linear(name:inputSize:outputSize:gain:rng:)` with inputSize = Σ widths.
    public init(
        name: String, widths: [Int], constant: Set<Int> = [], outputSize: Int, gain: Double = 2.0.squareRoot(), rng: inout SeededGenerator
    ) {
        precondition(!widths.isEmpty && widths.allSatisfy { $0 >= 0 }, "BlockLinear: block widths \(widths)")
        self.widths = widths
        self.constant = constant
        self.outputSize = outputSize
        let inputSize = widths.reduce(0, +)
        weight = Parameter(
            name: "\(name).weight", shape: [outputSize, inputSize],
            value: Initialization.orthogonal(rows: outputSize, columns: inputSize, gain: gain, rng: &rng))
        bias = Parameter(name: "\(name).bias", shape: [outputSize], value: [S](repeating: 0, count: outputSize))
        inputGradients = widths.map { _ in [] }
    }

    /// `blocks[i]` is [batch, widths[i]]; returns [batch, outputSize].
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ blocks: [[S]], batch: Int) -> [S] {
        precondition(blocks.count == widths.count, "BlockLinear: \(blocks.count) blocks, expected \(widths.count)")
        for (block, width) in zip(blocks, widths) {
            precondition(block.count == batch * width, "BlockLinear: a block of \(block.count) for batch \(batch) × \(width)")
        }
        inputs = blocks
        self.batch = batch
        let outputSize = self.outputSize, inputSize = self.inputSize
        output.reuse(count: batch * outputSize)
        output.withUnsafeMutableBufferPointer { out in
            bias.value.withUnsafeBufferPointer { MatMul.fillRows(out, rows: batch, with: $0) }
            weight.value.withUnsafeBufferPointer { w in
                var offset = 0
                for (block, width) in zip(blocks, widths) {
                    defer { offset += width }
                    guard width > 0, batch > 0 else { continue }
                    block.withUnsafeBufferPointer { x in
                        // Y += X_i · W[:, offset ..< offset + width]ᵀ
                        S.gemm(
                            transposeA: false, transposeB: true, m: batch, n: outputSize, k: width, alpha: 1,
                            a: x.baseAddress!, lda: width, b: w.baseAddress! + offset, ldb: inputSize, beta: 1,
                            c: out.baseAddress!, ldc: outputSize)
                    }
                }
            }
        }
        return output
    }

    /// Adds the parameters' gradients and returns dLoss/dX of each block (an empty array for the
    /// `constant` ones).
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) -> [[S]] {
        let outputSize = self.outputSize, inputSize = self.inputSize, batch = self.batch
        precondition(outputGradient.count == batch * outputSize, "BlockLinear: gradient does not match the last forward")
        let inputs = self.inputs
        self.inputs = []  // the producers' buffers are their own again (after this pass's reads)
        var gradients = inputGradients
        inputGradients = []
        outputGradient.withUnsafeBufferPointer { dy in
            bias.gradient.withUnsafeMutableBufferPointer { db in
                MatMul.addColumnSums(dy, rows: batch, columns: outputSize, into: db)
            }
            weight.value.withUnsafeBufferPointer { w in
                weight.gradient.withUnsafeMutableBufferPointer { dw in
                    var offset = 0
                    for (i, width) in widths.enumerated() {
                        defer { offset += width }
                        guard width > 0, batch > 0 else { continue }
                        inputs[i].withUnsafeBufferPointer { x in
                            // dW[:, offset ..< offset + width] += dYᵀ · X_i
                            S.gemm(
                                transposeA: true, transposeB: false, m: outputSize, n: width, k: batch, alpha: 1,
                                a: dy.baseAddress!, lda: outputSize, b: x.baseAddress!, ldb: width, beta: 1,
                                c: dw.baseAddress! + offset, ldc: inputSize)
                        }
                        guard !constant.contains(i) else { continue }
                        gradients[i].reuse(count: batch * width)
                        gradients[i].withUnsafeMutableBufferPointer { dx in
                            // dX_i = dY · W[:, offset ..< offset + width]
                            S.gemm(
                                transposeA: false, transposeB: false, m: batch, n: width, k: outputSize, alpha: 1,
                                a: dy.baseAddress!, lda: outputSize, b: w.baseAddress! + offset, ldb: inputSize, beta: 0,
                                c: dx.baseAddress!, ldc: width)
                        }
                    }
                }
            }
        }
        inputGradients = gradients
        return gradients
    }
}
