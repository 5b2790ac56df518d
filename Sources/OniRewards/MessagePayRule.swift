/// What a trained reward model's output pays: fitted to the outputs of every known message
/// (each weighted by how often it occurred), then applied per message. One rule per way ONI or
/// Oni turns outputs into r_int.
public protocol MessagePayRule: Sendable {
    func fitted(outputs: [Double], counts: [Double]) -> FittedPayRule
}

/// A rule fitted to the messages seen so far: r_int of any output, and what the fit found.
public struct FittedPayRule: Sendable {
    public let pay: @Sendable (Double) -> Double
    /// reward/* figures of the fit (the score's mean and spread, …).
    public var figures: [String: Double]

    public init(figures: [String: Double] = [:], pay: @escaping @Sendable (Double) -> Double) {
        self.pay = pay
        self.figures = figures
    }
}

/// The classification reward: 1 where P(progress) exceeds the threshold, else 0 (ONI's
/// `online_cls` with `classification_threshold`).
public struct ProbabilityAbove: MessagePayRule {
    public var threshold: Double

    public init(threshold: Double) { self.threshold = threshold }

    public func fitted(outputs: [Double], counts: [Double]) -> FittedPayRule {
        let threshold = threshold
        return FittedPayRule { $0 > threshold ? 1 : 0 }
    }
}

/// The ranking reward: the Bradley–Terry score standardised by its mean and standard deviation
/// over the steps seen (every message weighted by its count), paid where it exceeds the
/// threshold — 1 there (`RankingPayment.indicator`) or the standardised score itself
/// (`.zscore`, ONI's `online_motif` rule with threshold −0.5). Scores that barely differ (every
/// judgement a tie: a judge with no opinion) pay nothing rather than the noise between them.
public struct StandardisedScore: MessagePayRule {
    public var threshold: Double
    public var payment: RankingPayment

    public init(threshold: Double, payment: RankingPayment) {
        self.threshold = threshold
        self.payment = payment
    }

    public func fitted(outputs: [Double], counts: [Double]) -> FittedPayRule {
        let total = max(counts.reduce(0, +), 1)
        let mean = zip(outputs, counts).reduce(0) { $0 + $1.0 * $1.1 } / total
        let variance = zip(outputs, counts).reduce(0) { $0 + $1.1 * ($1.0 - mean) * ($1.0 - mean) } / total
        let std = variance.squareRoot()
        let (threshold, payment) = (threshold, payment)
        let figures = ["reward/ranker_score_mean": mean, "reward/ranker_score_std": std]
        guard std > 1e-3 else { return FittedPayRule(figures: figures) { _ in 0 } }
        return FittedPayRule(figures: figures) { score in
            let z = (score - mean) / std
            guard z > threshold else { return 0 }
            return payment == .indicator ? 1 : z
        }
    }
}
