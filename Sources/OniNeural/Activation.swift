/// An elementwise nonlinearity.
public final class Activation<S: Scalar>: Layer {
    public enum Kind: String, Sendable {
        case relu, elu, tanh
    }

    public let kind: Kind
    public let inputSize: Int
    public var outputSize: Int { inputSize }
    public var parameters: [Parameter<S>] { [] }
    /// The last forward's input (let go after backward), its output and the input gradient (kept between passes).
    private var input: [S] = []
    private var output: [S] = []
    private var gradient: [S] = []

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
        // Into the kept buffer, branch-free so the loops vectorise.
        output.reuse(count: input.count)
        output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { x in
                guard let x = x.baseAddress, let y = out.baseAddress else { return }
                switch kind {
                case .relu: for i in 0..<out.count { y[i] = max(x[i], 0) }
                case .elu: S.elu(x, y, count: out.count)
                case .tanh: for i in 0..<out.count { y[i] = S.tanh(x[i]) }
                }
            }
        }
        return output
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) -> [S] {
        let kind = self.kind
        gradient.reuse(count: outputGradient.count)
        gradient.withUnsafeMutableBufferPointer { g in
            outputGradient.withUnsafeBufferPointer { dy in
                input.withUnsafeBufferPointer { x in
                    output.withUnsafeBufferPointer { y in
                        guard let g = g.baseAddress, let dy = dy.baseAddress, let x = x.baseAddress, let y = y.baseAddress else { return }
                        let n = outputGradient.count
                        switch kind {
                        case .relu:
                            for i in 0..<n { g[i] = x[i] > 0 ? dy[i] : 0 }
                        case .elu:
                            // d/dx (eˣ − 1) = eˣ = y + 1 for x ≤ 0 (and y > 0 exactly where x > 0)
                            for i in 0..<n { g[i] = y[i] > 0 ? dy[i] : dy[i] * (y[i] + 1) }
                        case .tanh:
                            for i in 0..<n { g[i] = dy[i] * (1 - y[i] * y[i]) }
                        }
                    }
                }
            }
        }
        input = []  // the producer's buffer is its own again
        return gradient
    }
}
