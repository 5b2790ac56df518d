import OniCore

/// Categorical distributions over `actions` choices, from logits [batch, actions].
public enum Categorical {
    /// log softmax of each row, computed stably.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public static func logSoftmax<S: Scalar>(_ logits: [S], actions: Int) -> [S] {
        precondition(actions > 0 && logits.count % actions == 0, "logits do not split into rows of \(actions)")
        var out = [S](repeating: 0, count: logits.count)
        for base in stride(from: 0, to: logits.count, by: actions) {
            var top = logits[base]
            for j in 1..<actions { top = max(top, logits[base + j]) }
            var sum: S = 0
            for j in 0..<actions { sum += S.exp(logits[base + j] - top) }
            let logSum = top + S.log(sum)
            for j in 0..<actions { out[base + j] = logits[base + j] - logSum }
        }
        return out
    }

    /// dLoss/dLogits from dLoss/dLogProbs: g − softmax · Σg, per row.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public static func logSoftmaxBackward<S: Scalar>(logProbs: [S], gradient: [S], actions: Int) -> [S] {
        var out = [S](repeating: 0, count: gradient.count)
        for base in stride(from: 0, to: gradient.count, by: actions) {
            var sum: S = 0
            for j in 0..<actions { sum += gradient[base + j] }
            for j in 0..<actions { out[base + j] = gradient[base + j] - S.exp(logProbs[base + j]) * sum }
        }
        return out
    }

    /// Entropy −Σ p log p of each row.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public static func entropy<S: Scalar>(logProbs: [S], actions: Int) -> [S] {
        stride(from: 0, to: logProbs.count, by: actions).map { base in
            var h: S = 0
            for j in 0..<actions { h -= S.exp(logProbs[base + j]) * logProbs[base + j] }
            return h
        }
    }

    /// dEntropy/dLogProbs per element: −p (1 + log p); chain through `logSoftmaxBackward`.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public static func entropyGradient<S: Scalar>(logProbs: [S]) -> [S] {
        logProbs.map { -S.exp($0) * (1 + $0) }
    }

    /// Samples one action per row.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public static func sample<S: Scalar>(logProbs: [S], actions: Int, rng: inout SeededGenerator) -> [Int] {
        stride(from: 0, to: logProbs.count, by: actions).map { base in
            // Draw against the row's own total, so rounding never hands out an action of probability ~0.
            var total = 0.0
            for j in 0..<actions { total += Double(S.exp(logProbs[base + j])) }
            let u = Double(rng.next() >> 11) / Double(1 << 53) * total
            var cumulative = 0.0
            var last = 0
            for j in 0..<actions {
                let p = Double(S.exp(logProbs[base + j]))
                if p > 0 { last = j }
                cumulative += p
                if u < cumulative { return j }
            }
            return last
        }
    }
}
