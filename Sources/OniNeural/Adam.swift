import Foundation

/// Adam (Kingma & Ba 2015) over a fixed set of parameters, with optional
/// clipping of the global gradient norm before each step.
public final class Adam<S: Scalar> {
    public let parameters: [Parameter<S>]
    public var learningRate: S
    public var beta1: S
    public var beta2: S
    public var epsilon: S
    /// Clip the global L2 norm of all gradients to this before stepping (nil = no clipping).
    public var maxGradientNorm: S?
    public private(set) var steps = 0
    /// First and second moment estimates, one array per parameter (checkpointed with the weights).
    public internal(set) var firstMoments: [[S]]
    public internal(set) var secondMoments: [[S]]

    public init(
        parameters: [Parameter<S>], learningRate: S = 3e-4, beta1: S = 0.9, beta2: S = 0.999, epsilon: S = 1e-6,
        maxGradientNorm: S? = 4
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.maxGradientNorm = maxGradientNorm
        firstMoments = parameters.map { [S](repeating: 0, count: $0.count) }
        secondMoments = parameters.map { [S](repeating: 0, count: $0.count) }
    }

    /// Restores the optimiser's state from a checkpoint.
    public func restore(steps: Int, firstMoments: [[S]], secondMoments: [[S]]) -> Bool {
        guard steps >= 0, firstMoments.count == parameters.count, secondMoments.count == parameters.count,
              zip(parameters, zip(firstMoments, secondMoments)).allSatisfy({ $0.count == $1.0.count && $0.count == $1.1.count }),
              firstMoments.allSatisfy({ $0.allSatisfy(\.isFinite) }),
              secondMoments.allSatisfy({ $0.allSatisfy { $0.isFinite && $0 >= 0 } })
        else { return false }
        self.steps = steps
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
        return true
    }

    /// The global L2 norm of all gradients.
    public static func gradientNorm(_ parameters: [Parameter<S>]) -> S {
        // Summed in Float64, so large Float32 gradients do not overflow the norm.
        var sum = 0.0
        for p in parameters { for g in p.gradient { sum += Double(g) * Double(g) } }
        return S(sum.squareRoot())
    }

    /// Clips, takes one step, zeroes the gradients; returns the norm before clipping.
    @discardableResult
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func step() -> S {
        let norm = Self.gradientNorm(parameters)
        guard norm.isFinite else {
            // A non-finite gradient is not applied: the gradients are dropped and the step not counted.
            for p in parameters { p.zeroGradient() }
            return norm
        }
        var scale: S = 1
        if let limit = maxGradientNorm, norm > limit { scale = limit / norm }
        steps += 1
        let correction1 = 1 - S(Foundation.pow(Double(beta1), Double(steps)))
        let correction2 = 1 - S(Foundation.pow(Double(beta2), Double(steps)))
        let (b1, b2, lr, eps) = (beta1, beta2, learningRate, epsilon)
        for (i, p) in parameters.enumerated() {
            p.gradient.withUnsafeMutableBufferPointer { g in
                p.value.withUnsafeMutableBufferPointer { w in
                    firstMoments[i].withUnsafeMutableBufferPointer { m in
                        secondMoments[i].withUnsafeMutableBufferPointer { v in
                            for j in 0..<w.count {
                                let gj = g[j] * scale
                                m[j] = b1 * m[j] + (1 - b1) * gj
                                v[j] = b2 * v[j] + (1 - b2) * gj * gj
                                w[j] -= lr * (m[j] / correction1) / ((v[j] / correction2).squareRoot() + eps)
                                g[j] = 0
                            }
                        }
                    }
                }
            }
        }
        return norm
    }
}
