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
        // Summed in Float64, so large Float32 gradients do not overflow the norm; eight lanes at a
        // time, then the lanes' sums in a fixed order (the same gradients give the same norm).
        var lanes = SIMD8<Double>()
        var rest = 0.0
        for p in parameters {
            p.gradient.withUnsafeBufferPointer { g in
                let whole = g.count / 8 * 8
                var i = 0
                while i < whole {
                    let x = SIMD8<Double>(
                        Double(g[i]), Double(g[i + 1]), Double(g[i + 2]), Double(g[i + 3]),
                        Double(g[i + 4]), Double(g[i + 5]), Double(g[i + 6]), Double(g[i + 7]))
                    lanes.addProduct(x, x)
                    i += 8
                }
                for j in whole..<g.count { rest += Double(g[j]) * Double(g[j]) }
            }
        }
        return S((lanes.sum() + rest).squareRoot())
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
        // lr · (m / c₁) / (√(v / c₂) + ε) with the corrections' quotients taken once.
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        let stepSize = learningRate / correction1, inverse2 = 1 / correction2
        for (i, p) in parameters.enumerated() {
            p.gradient.withUnsafeMutableBufferPointer { g in
                p.value.withUnsafeMutableBufferPointer { w in
                    firstMoments[i].withUnsafeMutableBufferPointer { m in
                        secondMoments[i].withUnsafeMutableBufferPointer { v in
                            let count = w.count
                            guard let g = g.baseAddress, let w = w.baseAddress, let m = m.baseAddress, let v = v.baseAddress else { return }
                            Self.update(
                                weights: w, gradients: g, first: m, second: v, count: count, scale: scale, beta1: b1, beta2: b2,
                                stepSize: stepSize, inverseCorrection2: inverse2, epsilon: eps)
                        }
                    }
                }
            }
        }
        return norm
    }

    /// One parameter's update over pointers (a plain loop that vectorises); zeroes its gradient.
    @inline(__always)
    private static func update(
        weights w: UnsafeMutablePointer<S>, gradients g: UnsafeMutablePointer<S>, first m: UnsafeMutablePointer<S>,
        second v: UnsafeMutablePointer<S>, count: Int, scale: S, beta1 b1: S, beta2 b2: S, stepSize: S, inverseCorrection2: S, epsilon: S
    ) {
        for j in 0..<count {
            let gj = g[j] * scale
            let mj = b1 * m[j] + (1 - b1) * gj
            let vj = b2 * v[j] + (1 - b2) * gj * gj
            m[j] = mj
            v[j] = vj
            w[j] -= stepSize * mj / ((vj * inverseCorrection2).squareRoot() + epsilon)
            g[j] = 0
        }
    }
}
