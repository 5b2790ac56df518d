import OniCore

/// y = x Wᵀ + b, with W [out, in] (PyTorch's layout) and b [out].
public final class Linear<S: Scalar>: Layer {
    public let inputSize: Int
    public let outputSize: Int
    public let weight: Parameter<S>
    public let bias: Parameter<S>
    /// The last forward's input (let go after backward) and batch size.
    private var input: [S] = []
    private var batch = 0
    /// The output and the input gradient, kept between passes (see `Array.reuse(count:)`).
    private var output: [S] = []
    private var inputGradient: [S] = []

    /// Orthogonal weights scaled by `gain` (ReLU/ELU nets: √2; policy heads: 0.01), zero bias.
    public init(name: String, inputSize: Int, outputSize: Int, gain: Double = 2.0.squareRoot(), rng: inout SeededGenerator) {
        self.inputSize = inputSize
        self.outputSize = outputSize
        weight = Parameter(
            name: "\(name).weight", shape: [outputSize, inputSize],
            value: Initialization.orthogonal(rows: outputSize, columns: inputSize, gain: gain, rng: &rng))
        bias = Parameter(name: "\(name).bias", shape: [outputSize], value: [S](repeating: 0, count: outputSize))
    }

    public var parameters: [Parameter<S>] { [weight, bias] }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ input: [S], batch: Int) -> [S] {
        precondition(input.count == batch * inputSize, "Linear: \(input.count) inputs for batch \(batch) × \(inputSize)")
        self.input = input
        self.batch = batch
        output.reuse(count: batch * outputSize)
        let outputSize = self.outputSize
        output.withUnsafeMutableBufferPointer { out in
            bias.value.withUnsafeBufferPointer { MatMul.fillRows(out, rows: batch, with: $0) }
        }
        MatMul.multiply(input, weight.value, into: &output, m: batch, n: outputSize, k: inputSize, transposeB: true, accumulate: true)
        return output
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) -> [S] {
        precondition(outputGradient.count == batch * outputSize, "Linear: gradient does not match the last forward")
        // dW += dYᵀ X ; db += Σ_rows dY ; dX = dY W
        MatMul.multiply(outputGradient, input, into: &weight.gradient, m: outputSize, n: inputSize, k: batch, transposeA: true, accumulate: true)
        input = []  // the producer's buffer is its own again
        let outputSize = self.outputSize, batch = self.batch
        bias.gradient.withUnsafeMutableBufferPointer { db in
            outputGradient.withUnsafeBufferPointer { dy in
                MatMul.addColumnSums(dy, rows: batch, columns: outputSize, into: db)
            }
        }
        inputGradient.reuse(count: batch * inputSize)
        MatMul.multiply(outputGradient, weight.value, into: &inputGradient, m: batch, n: inputSize, k: outputSize)
        return inputGradient
    }
}
