import Foundation
import OniCore

/// The chat prompt of ONI's ranking reward: which of two game messages shows
/// more progress toward a `Goal`? The model answers `<label>first</label>`,
/// `<label>second</label>` or `<label>tie</label>`.
///
/// Like `AnnotationPrompt`, the system text and few-shot examples are the same
/// on every call (a server keeps that prefix cached); the examples are pairs of
/// neighbouring examples of the same `FewShotExamples`, answered from their labels for the goal.
public struct PairPrompt: Sendable {
    /// The template version; part of `templateHash`.
    public let version: String
    public let goal: Goal
    /// Oni's pair prompt or ONI's (Motif's two descriptions, or its `reworded` messages).
    public let style: PromptStyle
    public let systemText: String
    /// Alternating user and assistant messages, one pair of each per example.
    public let examples: [ChatMessage]
    private let hash: String

    public init(goal: Goal, fewShot: FewShotExamples = .builtIn, style: PromptStyle = .default) {
        self.goal = goal
        self.style = style
        version = ["oni-pair-v1", "oni-paper-pair-v1", "oni-paper-pair-reworded-v1"][PromptStyle.allCases.firstIndex(of: style)!]
        guard style == .default else {
            systemText = ONIPrompts.system
            examples = []
            hash = String(SHA256.hex(version + "\n" + systemText + "\n" + Self.oniQuestion(goal, "{first}", "{second}", style)).prefix(16))
            return
        }
        systemText = """
            You compare messages from a dungeon-crawling game in the style of NetHack. \
            \(goal.text.isEmpty ? "No goal is given: judge by what you know of the game." : "The player's goal: \(goal.text)")
            You are shown two game messages. Decide which of them shows more progress toward this goal. \
            If both show the same amount of progress, or neither shows any, it is a tie.
            Reply with exactly <label>first</label>, <label>second</label> or <label>tie</label>. \
            Do not write anything else.
            """
        // Neighbouring examples: (0, 1), (1, 2), … — at most five pairs.
        let n = fewShot.examples.count
        examples = (0..<min(n, 5)).flatMap { a in
            let b = (a + 1) % n
            let (first, second) = (fewShot.progress(a, toward: goal), fewShot.progress(b, toward: goal))
            let answer = first == second ? "tie" : (first ? "first" : "second")
            return [
                ChatMessage.user(Self.question(fewShot.examples[a].message, fewShot.examples[b].message)),
                ChatMessage.assistant("<label>\(answer)</label>"),
            ]
        }
        var material = version + "\n" + fewShot.version + "\n" + systemText
        for message in examples { material += "\n" + message.role + "\n" + message.content }
        hash = String(SHA256.hex(material).prefix(16))
    }

    /// The first 16 hex digits of the SHA-256 of the version, system text and examples.
    public var templateHash: String { hash }

    /// The whole template as text, for the record (`{first}` and `{second}` mark the messages).
    public var templateText: String {
        ([version, "[system]\n" + systemText] + examples.map { "[\($0.role)]\n" + $0.content }
            + ["[user]\n" + (style == .default ? Self.question("{first}", "{second}") : Self.oniQuestion(goal, "{first}", "{second}", style))])
            .joined(separator: "\n")
    }

    /// The conversation comparing `first` with `second`.
    public func messages(first: String, second: String) -> [ChatMessage] {
        let (a, b) = (first.trimmingCharacters(in: .whitespacesAndNewlines), second.trimmingCharacters(in: .whitespacesAndNewlines))
        return [ChatMessage.system(systemText)] + examples + [.user(style == .default ? Self.question(a, b) : Self.oniQuestion(goal, a, b, style))]
    }

    /// The preference in a reply: 1 the first, 0 the second, 0.5 a tie.
    public func parse(_ reply: String) -> LabelOutcome {
        style == .default ? LabelParser.parsePreference(reply) : ONIPrompts.parsePreference(reply, reworded: style == .oniReworded)
    }

    private static func oniQuestion(_ goal: Goal, _ first: String, _ second: String, _ style: PromptStyle) -> String {
        ONIPrompts.pairPrompt(goal: goal, first: first, second: second, reworded: style == .oniReworded)
    }

    private static func question(_ first: String, _ second: String) -> String {
        "First message: \(first)\nSecond message: \(second)"
    }
}
