/// An elementwise nonlinearity.
public final class Activation<S: Scalar>: Layer {
    public enum Kind: String, Sendable {
        case relu, elu, tanh
    }

    public let kind: Kind
    public let inputSize: Int
    public var outputSize: Int { inputSize }
    public var parameters: [Parameter<S>] { [] }
    private var input: [S] = []
    private var output: [S] = []

    public init(_ kind: Kind, size: Int) {
        self.kind = kind
        inputSize = size
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ input: [S], batch: Int) -> [S] {
        precondition(input.count == batch * inputSize, "Activation: input size mismatch")
        self.input = input
        let kind = self.kind
        // Written once into fresh storage (no zero fill, no copy), branch-free so the loops vectorise.
        output = [S](unsafeUninitializedCapacity: input.count) { out, initialized in
            input.withUnsafeBufferPointer { x in
                switch kind {
                case .relu: for i in 0..<x.count { out[i] = max(x[i], 0) }
                case .elu: if !x.isEmpty { S.elu(x.baseAddress!, out.baseAddress!, count: x.count) }
                case .tanh: for i in 0..<x.count { out[i] = S.tanh(x[i]) }
                }
            }
            initialized = input.count
        }
        return output
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) -> [S] {
        let kind = self.kind
        return [S](unsafeUninitializedCapacity: outputGradient.count) { g, initialized in
            outputGradient.withUnsafeBufferPointer { dy in
                input.withUnsafeBufferPointer { x in
                    output.withUnsafeBufferPointer { y in
                        switch kind {
                        case .relu:
                            for i in 0..<dy.count { g[i] = x[i] > 0 ? dy[i] : 0 }
                        case .elu:
                            // d/dx (eˣ − 1) = eˣ = y + 1 for x ≤ 0
                            for i in 0..<dy.count { g[i] = dy[i] * (x[i] > 0 ? 1 : y[i] + 1) }
                        case .tanh:
                            for i in 0..<dy.count { g[i] = dy[i] * (1 - y[i] * y[i]) }
                        }
                    }
                }
            }
            initialized = outputGradient.count
        }
    }
}
