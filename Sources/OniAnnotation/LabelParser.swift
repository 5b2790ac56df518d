import Foundation
import OniCore

/// Turns a model's reply into a label, refusing anything ambiguous.
///
/// Accepted replies:
/// - a `<label>…</label>` tag (case-insensitive, whitespace inside ignored)
///   holding `yes`/`no`, `true`/`false`, `1`/`0` or `helpful`/`unhelpful`.
///   When the reply holds several tags, the last one decides: models often
///   restate the answer format before answering;
/// - a reply that is only one of those words, optionally followed by a period
///   or exclamation mark and optionally in quotes (`No.`, `"yes"`).
///
/// Everything else is `.unparseable`: an empty reply, a last tag holding any
/// other word, a tag cut off before `</label>`, or prose without a tag.
public enum LabelParser {
    private static let openTag = "<label>"
    private static let closeTag = "</label>"
    /// The answers to "does this message show progress?" and their values.
    public static let labelWords: [String: Float] = [
        "yes": 1, "true": 1, "1": 1, "helpful": 1,
        "no": 0, "false": 0, "0": 0, "unhelpful": 0,
    ]
    /// The answers to "which of the two shows more progress?" (`PairPrompt`) and their values.
    public static let preferenceWords: [String: Float] = [
        "first": 1, "1": 1, "second": 0, "2": 0, "tie": 0.5, "equal": 0.5, "same": 0.5, "neither": 0.5, "both": 0.5,
    ]

    /// Parses the answer to a comparison: `.labelled(value: 1, 0 or 0.5, confidence: 1)`.
    public static func parsePreference(_ reply: String) -> LabelOutcome {
        parse(reply, words: preferenceWords)
    }

    /// Parses `reply`; a recognised answer gives `.labelled(value: 1 or 0, confidence: 1)`.
    public static func parse(_ reply: String) -> LabelOutcome {
        parse(reply, words: labelWords)
    }

    /// Parses `reply` against an answer vocabulary (lowercase words and their values).
    public static func parse(_ reply: String, words: [String: Float]) -> LabelOutcome {
        let text = reply.lowercased()
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return .unparseable(reason: "empty reply")
        }

        if let lastOpen = text.range(of: openTag, options: .backwards) {
            guard let close = text.range(of: closeTag, range: lastOpen.upperBound..<text.endIndex) else {
                return .unparseable(reason: "unterminated label tag")
            }
            let inner = String(text[lastOpen.upperBound..<close.lowerBound])
            if let value = value(of: inner, words: words) {
                return .labelled(value: value, confidence: 1)
            }
            let shown = inner.trimmingCharacters(in: .whitespacesAndNewlines)
            return .unparseable(reason: "label tag holds \"\(shown.prefix(40))\"")
        }
        if text.contains(closeTag) {
            return .unparseable(reason: "closing label tag without an opening tag")
        }
        if let value = value(of: text, words: words) {
            return .labelled(value: value, confidence: 1)
        }
        return .unparseable(reason: "no label tag in reply")
    }

    /// 1 or 0 for a lowercased answer word, after trimming whitespace, one
    /// layer of quotes and trailing `.`/`!`; nil for anything else.
    private static func value(of answer: String, words: [String: Float]) -> Float? {
        var word = Substring(answer.trimmingCharacters(in: .whitespacesAndNewlines))
        word = stripQuotes(word)
        while let last = word.last, last == "." || last == "!" {
            word = word.dropLast()
        }
        word = stripQuotes(word)
        let normalized = String(word).trimmingCharacters(in: .whitespaces)
        return words[normalized]
    }

    private static func stripQuotes(_ word: Substring) -> Substring {
        let pairs: [(Character, Character)] = [("\"", "\""), ("'", "'"), ("`", "`"), ("\u{201C}", "\u{201D}"), ("\u{2018}", "\u{2019}")]
        guard word.count >= 2, let first = word.first, let last = word.last else { return word }
        for (open, close) in pairs where first == open && last == close {
            return word.dropFirst().dropLast()
        }
        return word
    }
}
