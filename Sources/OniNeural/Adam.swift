import CKernels
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

    /// Σ g², in Float64 (large Float32 gradients do not overflow the norm): Float32 in eight
    /// lanes then the lanes in a fixed order (`oni_sum_of_squares`), Float64 (gradient checks) in
    /// order. The norm adds these per parameter, in parameter order, so the same gradients give
    /// the same norm however many threads summed them.
    private static func sumOfSquares(_ g: UnsafeBufferPointer<S>) -> Double {
        guard let base = g.baseAddress else { return 0 }
        if S.self == Float.self {
            return oni_sum_of_squares(UnsafeRawPointer(base).assumingMemoryBound(to: Float.self), g.count)
        }
        var total = 0.0
        for x in g { total += Double(x) * Double(x) }
        return total
    }

    /// Clips, takes one step, zeroes the gradients; returns the norm before clipping.
    @discardableResult
    public func step() -> S { step(threads: 1) { _ in } }

    /// The same step on `threads` threads, each taking whole parameters (`owners`); on the
    /// thread that owns parameter i, `reduce(i)` runs first (a data-parallel update sums its
    /// replicas' gradients into the parameter there). Each weight's update is the same
    /// arithmetic whatever the thread count, and so is the norm (`sumOfSquares`).
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
                    squares.value[i] = parameters[i].gradient.withUnsafeBufferPointer { Self.sumOfSquares($0) }
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
                                        Self.update(
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

    /// One parameter's update over pointers; zeroes its gradient. Float32 goes to
    /// `oni_adam_update` (the same operations, four elements at a time: Swift's square root of a
    /// vector is a scalar call per lane); Float64 (gradient checks) is this loop.
    @inline(__always)
    private static func update(
        weights w: UnsafeMutablePointer<S>, gradients g: UnsafeMutablePointer<S>, first m: UnsafeMutablePointer<S>,
        second v: UnsafeMutablePointer<S>, count: Int, scale: S, beta1 b1: S, beta2 b2: S, stepSize: S, inverseCorrection2: S, epsilon: S
    ) {
        if S.self == Float.self {
            func float(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
            oni_adam_update(
                float(w), float(g), float(m), float(v), count, Float(scale), Float(b1), Float(b2), Float(stepSize), Float(inverseCorrection2),
                Float(epsilon))
            return
        }
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
