import Foundation
import OniCore

/// Reads a label from the probabilities a model gives its first token: the mass on
/// "yes" against the mass on "no".
///
/// Every alternative whose text, trimmed and lowercased, is `yes` or `no` counts
/// (tokenisers often have ` yes`, `Yes` and `yes` as separate tokens). The label is
/// 1 when P(yes) > P(no); the confidence is the winner's share, P(win) / (P(yes) + P(no)),
/// in [0.5, 1]. With neither word among the alternatives the outcome is `.unparseable`.
public enum LogProbabilityLabel {
    /// How many alternatives to ask the server for.
    public static let alternativesToRequest = 10

    /// With `threshold`, the label is 1 when P(yes)'s share exceeds it (0.5: the likelier word);
    /// the confidence stays the chosen word's share, so P(yes) can always be read back.
    public static func decide(_ alternatives: [TokenAlternative], threshold: Double = 0.5) -> LabelOutcome {
        var yes = 0.0
        var no = 0.0
        for alternative in alternatives where alternative.logprob.isFinite {
            let word = alternative.token.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            let probability = exp(min(0, alternative.logprob))
            if word == "yes" { yes += probability } else if word == "no" { no += probability }
        }
        guard yes + no > 0 else {
            let shown = alternatives.prefix(3).map { "\"\($0.token)\"" }.joined(separator: ", ")
            return .unparseable(reason: alternatives.isEmpty ? "no token alternatives" : "neither yes nor no among the likely first tokens (\(shown))")
        }
        let yesShare = yes / (yes + no)
        let progress = threshold == 0.5 ? yes > no : yesShare > threshold
        return .labelled(value: progress ? 1 : 0, confidence: Float(progress ? yesShare : 1 - yesShare))
    }
}
