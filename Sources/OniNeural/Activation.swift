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
        switch kind {
        case .relu: output = input.map { max($0, 0) }
        case .elu: output = input.map { $0 > 0 ? $0 : S.exp($0) - 1 }
        case .tanh: output = input.map { S.tanh($0) }
        }
        return output
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) -> [S] {
        var g = outputGradient
        let input = self.input, output = self.output  // locals: no exclusivity check per element
        switch kind {
        case .relu:
            for i in g.indices where input[i] <= 0 { g[i] = 0 }
        case .elu:
            // d/dx (eˣ − 1) = eˣ = y + 1 for x ≤ 0
            for i in g.indices where input[i] <= 0 { g[i] *= output[i] + 1 }
        case .tanh:
            for i in g.indices { g[i] *= 1 - output[i] * output[i] }
        }
        return g
    }
}
