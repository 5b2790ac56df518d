import Foundation
import OniCore

/// How a pair of messages is compared for the ranking reward.
public enum PairJudge: String, Sendable, CaseIterable {
    /// ONI's way: the model sees both messages in one prompt (`PairPrompt`) and answers
    /// first / second / tie, asked in both orders.
    case prompt
    /// Each message is labelled on its own (the single-message prompt, cached like any
    /// label) and the pair is decided from the two probabilities of progress p₁, p₂:
    /// preference = σ(logit p₁ − logit p₂), what Bradley–Terry gives when a message's score
    /// is the log-odds the model puts on it showing progress. For judges too small to
    /// compare two messages in one prompt (the local 0.5B default answers "second" to
    /// everything); with `LabelMode.tagged` the preference is 1, 0 or 0.5.
    case scores

    /// The template version of `scores`; with the single-message template's hash it makes the
    /// hash stored with scores-judged pairs.
    public static let scoresVersion = "oni-pair-scores-v1"

    /// P(progress) of a single-message label: the confidence of a yes, one minus that of a no.
    public static func progressProbability(value: Float, confidence: Float) -> Double {
        Double(value >= 0.5 ? confidence : 1 - confidence)
    }

    /// σ(logit p₁ − logit p₂) = p₁(1−p₂) / (p₁(1−p₂) + p₂(1−p₁)), probabilities kept within
    /// [0.01, 0.99] so two certain labels still compare (equal ones as a tie).
    public static func preference(_ first: Double, _ second: Double) -> Float {
        let p = min(max(first, 0.01), 0.99), q = min(max(second, 0.01), 0.99)
        let win = p * (1 - q), loss = q * (1 - p)
        return Float(win / (win + loss))
    }
}
