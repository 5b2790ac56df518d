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
    /// Per parameter, Σ g² of the step under way; and the parameters each thread takes (`owners`).
    private var squares: [Double] = []
    private var ownersByThread: [[Int]] = []

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

    /// Clips, takes one step, zeroes the gradients; returns the norm before clipping.
    @discardableResult
    public func step() -> S { step(threads: 1) { _ in } }

    /// The same step on `threads` threads, each taking whole parameters (`owners`); on the
    /// thread that owns parameter i, `reduce(i)` runs first (a data-parallel update sums its
    /// replicas' gradients into the parameter there). Each weight's update is the same
    /// arithmetic whatever the thread count (`Scalar.adamUpdate`), and so is the norm: per-parameter
    /// sums (`Scalar.sumOfSquares`, in Float64) added in parameter order.
    @discardableResult
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func step(threads: Int, reduce: (_ parameter: Int) -> Void) -> S {
        let owners = owners(threads: threads), parameters = self.parameters
        squares.reuse(count: parameters.count)
        squares.withUnsafeMutableBufferPointer { squares in
            let squares = UncheckedSendable(squares)
            Parallel.forEach(owners.count) { k in
                for i in owners[k] {
                    reduce(i)
                    squares.value[i] = parameters[i].gradient.withUnsafeBufferPointer { g in g.baseAddress.map { S.sumOfSquares($0, count: g.count) } ?? 0 }
                }
            }
        }
        var total = 0.0
        for x in squares { total += x }
        let norm = S(total.squareRoot())
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
        // The moments' outer arrays are bound once, here: each thread then touches only its own parameters' elements.
        firstMoments.withUnsafeMutableBufferPointer { firstMoments in
            secondMoments.withUnsafeMutableBufferPointer { secondMoments in
                let moments = UncheckedSendable((firstMoments, secondMoments))
                Parallel.forEach(owners.count) { k in
                    for i in owners[k] {
                        parameters[i].gradient.withUnsafeMutableBufferPointer { g in
                            parameters[i].value.withUnsafeMutableBufferPointer { w in
                                moments.value.0[i].withUnsafeMutableBufferPointer { m in
                                    moments.value.1[i].withUnsafeMutableBufferPointer { v in
                                        let count = w.count
                                        guard let g = g.baseAddress, let w = w.baseAddress, let m = m.baseAddress, let v = v.baseAddress else { return }
                                        S.adamUpdate(
                                            weights: w, gradients: g, first: m, second: v, count: count, scale: scale, beta1: b1, beta2: b2,
                                            stepSize: stepSize, inverseCorrection2: inverse2, epsilon: eps)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return norm
    }

    /// The parameters each of `threads` threads takes: largest first, each to the thread with the
    /// fewest elements so far (kept for the last thread count asked).
    private func owners(threads: Int) -> [[Int]] {
        let count = max(1, min(threads, parameters.count))
        if ownersByThread.count == count { return ownersByThread }
        var owners = [[Int]](repeating: [], count: count), load = [Int](repeating: 0, count: count)
        for i in parameters.indices.sorted(by: { (parameters[$0].count, $1) > (parameters[$1].count, $0) }) {
            let k = load.indices.min { load[$0] < load[$1] }!
            owners[k].append(i)
            load[k] += parameters[i].count
        }
        ownersByThread = owners
        return owners
    }
}
