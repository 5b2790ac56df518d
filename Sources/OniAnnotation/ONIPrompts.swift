import Foundation
import OniCore

/// Which prompts the annotator asks with (`--prompt`).
public enum PromptStyle: String, Sendable, CaseIterable, Codable {
    /// Oni's own: a short system prompt, few-shot examples as chat turns, a one-word answer.
    case `default`
    /// ONI's (facebookresearch/oni, `rlaif/prompts.py`): a chain-of-thought label prompt
    /// (knowledge, analysis, then a FOO/BAR label) and Motif's two-description pair prompt.
    case oni
    /// ONI's `reworded` version of the pair prompt (messages rather than descriptions); labels as `oni`.
    case oniReworded = "oni-reworded"
}

/// ONI's prompts, reproduced to behave as ONI's do: the same structure, goal sentences, label
/// words, examples and answer formats, and ONI's way of reading the answers (made stricter
/// where ONI reads a label from anywhere in the reply).
public enum ONIPrompts {
    /// ONI's system message, sent whatever the prompt version.
    public static let system = """
        You are a helpful and honest judge of good gameplaying and progress in the NetHack game. \
        Always answer as helpfully as possible, while being truthful.
        If you don't know the answer to a question, please don't share false information.
        """

    /// The goal sentence of the label prompt ("I prefer …"), by goal; nil for zero knowledge.
    static func labelGoal(_ goal: Goal) -> String? {
        switch goal {
        case .default:
            "I prefer agents that maximize the score in the game, for instance by killing monsters, collecting gold or going down the stairs in the dungeon."
        case .combat:
            "I prefer agents engage in combat, for instance by killing monsters. But never prefer agents that collect ANY gold or that go down the dungeon."
        case .gold:
            "I prefer agents that maximize their gold. But never prefer agents that maximize the score in other ways (e.g., by engaging in combat or killing monsters) or that go down the dungeon."
        case .stairs:
            "I prefer agents that go down the dungeon as much as possible. But never prefer agents that maximize the score (e.g., by engaging in combat) or that collect ANY gold."
        case .zeroKnowledge: nil
        case let .custom(text): text
        }
    }

    /// The goal string of the pair prompt ("Prefer …"), by goal; empty for zero knowledge.
    static func pairGoal(_ goal: Goal) -> String {
        switch goal {
        case .default:
            "Prefer agents that maximize the score in the game, for instance by killing monsters, collecting gold or going down the stairs in the dungeon."
        case .combat:
            "Prefer agents that engage in combat, for instance by killing monsters. But never prefer agents that collect ANY gold or that go down the dungeon."
        case .gold:
            "Prefer agents that maximize their gold. But never prefer agents that maximize the score in other ways (e.g., by engaging in combat or killing monsters) or that go down the dungeon."
        case .stairs:
            "Prefer agents that go down the dungeon as much as possible. But never prefer agents that maximize the score (e.g., by engaging in combat) or that collect ANY gold."
        case .zeroKnowledge: ""
        case let .custom(text): text
        }
    }

    /// ONI's four examples and, per goal, whether each is FOO (helpful).
    static func examples(for goal: Goal) -> [(message: String, helpful: Bool)] {
        let (combat, gold, stairs) = (goal == .combat, goal == .gold, goal == .stairs)
        return [
            ("You kill the goblin!  Welcome to experience level 4", !gold && !stairs),
            ("You hear someone counting money.", !combat && !stairs),
            ("5 gold pieces.", !combat && !stairs),
            ("That door is closed.", false),
        ]
    }

    /// The label prompt's user message for `message`.
    public static func labelPrompt(goal: Goal, message: String) -> String {
        var lines = [
            "Context: I am playing NetHack and I will present you a message from the gameplay.",
            "",
            "Instruction: First, tell me about your knowledge of NetHack. Mention the goal of NetHack. Then, write an analysis "
                + "describing the semantics of the message using your knowledge. Finally, score whether the message is helpful "
                + "or unhelpful for making progress in the game (helpful meaning helpful for solving the game, not merely informative).",
        ]
        if let sentence = labelGoal(goal) { lines.append(sentence) }
        lines += ["For extremely helpful messages, assign a label FOO. For unhelpful, neutral, and lukewarm messages, assign a label BAR.", ""]
        for (index, example) in examples(for: goal).enumerated() {
            lines.append("Example \(index + 1): {\"\(example.message)\"} is \(example.helpful ? "FOO" : "BAR").")
        }
        lines += [
            "",
            "Please rate this message: {\"\(message)\"}",
            "",
            "Constraint: Please format your response strictly in this format without additional explanation:",
            "<knowledge> [your knowledge of NetHack] </knowledge>",
            "<analysis> [your one-sentence analysis of the message] </analysis>",
            "<label> [FOO/BAR] </label>",
        ]
        return lines.joined(separator: "\n")
    }

    /// The pair prompt's user message (Motif's two descriptions; `reworded`: two messages).
    public static func pairPrompt(goal: Goal, first: String, second: String, reworded: Bool) -> String {
        let goalText = pairGoal(goal)
        if reworded {
            return """
                I will present you with two short gameplay messages. First, tell me about your knowledge of NetHack. \
                Mention the goal of NetHack. Then, write a summary of the meaning and obvious effect of each message. \
                Then, write a comparative analysis of the two messages. Comment on uncertainty. \(goalText)
                Finally, respond by explicitly declaring which message is most likely to make progress, writing either \
                ("best_message": 1) or ("best_message": 2). Under high uncertainty you could also say ("best_message": None). \
                You have to absolutely comply with this format.
                {
                "message_1":
                "\(first)"
                }
                {
                "message_2":
                "\(second)"
                }
                """
        }
        return """
            I will present you with two short gameplay descriptions. First, tell me about your knowledge of NetHack. \
            Mention the goal of NetHack. \(goalText)
            Then, write an analysis describing the semantics of each description strictly using information from the \
            descriptions (which may be empty) and your knowledge of NetHack. Provide a comparative analysis based on first \
            principles. Finally, respond by explicitly declaring which description best fits the goal, writing either \
            ("best_description": 1), ("best_description": 2). You could also say ("best_description": None).
            {
            "description_1":
            "\(first)"
            }
            {
            "description_2":
            "\(second)"
            }
            """
    }

    /// A label from ONI's reply: FOO (1) or BAR (0) inside the last `<label>` tag; without a tag,
    /// ONI's own reading — FOO anywhere, else BAR anywhere. ONI reads a reply with neither as 0;
    /// here it is unparseable (asked again, then left unlabelled), as any garbage reply is.
    public static func parseLabel(_ reply: String) -> LabelOutcome {
        var text = Substring(reply)
        if let open = reply.range(of: "<label>", options: [.backwards, .caseInsensitive]) {
            let rest = reply[open.upperBound...]
            text = rest.range(of: "</label>", options: .caseInsensitive).map { rest[..<$0.lowerBound] } ?? rest
        }
        let hasFoo = text.contains("FOO"), hasBar = text.contains("BAR")
        if hasFoo && hasBar && text != Substring(reply) { return .unparseable(reason: "label tag holds both FOO and BAR") }
        if hasFoo { return .labelled(value: 1, confidence: 1) }
        if hasBar { return .labelled(value: 0, confidence: 1) }
        return .unparseable(reason: "no FOO or BAR in the reply")
    }

    /// A preference from ONI's pair reply: 1 → the first, 2 → the second, None → a tie. ONI reads a
    /// reply without the pattern as a tie; here it is unparseable.
    public static func parsePreference(_ reply: String, reworded: Bool) -> LabelOutcome {
        let key = reworded ? "message" : "description"
        let pattern = "best_*\\s*\(key)\\W*(?:\\s*:*\\s*)?(?:\\w+\\s*)?(1|2|none)"
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]),
              let match = regex.firstMatch(in: reply, range: NSRange(reply.startIndex..., in: reply)),
              let range = Range(match.range(at: 1), in: reply)
        else { return .unparseable(reason: "no (\"best_\(key)\": 1|2|None) in the reply") }
        switch reply[range].lowercased() {
        case "1": return .labelled(value: 1, confidence: 1)
        case "2": return .labelled(value: 0, confidence: 1)
        default: return .labelled(value: 0.5, confidence: 1)
        }
    }

    /// ONI's sampling temperature and its reply budget here (ONI allows 4,096 tokens; a reply in
    /// its format needs a few hundred).
    public static let temperature = 0.1
    public static let maxTokens = 512
}
