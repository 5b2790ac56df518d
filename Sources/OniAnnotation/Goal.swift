import Foundation

/// What the agent is trying to achieve; the annotator asks whether a game
/// message shows progress toward it.
public enum Goal: Sendable, Hashable {
    /// Play for score: defeat monsters, pick up gold, go deeper.
    case `default`
    /// Defeat monsters.
    case combat
    /// Pick up gold.
    case gold
    /// Reach and take the stairs down.
    case stairs
    /// No goal given: the model judges by what it knows of the game (ONI's `zeroknowledge`).
    case zeroKnowledge
    /// A goal described in the caller's own words.
    case custom(String)

    /// Parses a command-line goal: `default`, `combat`, `gold`, `stairs` or `zeroknowledge`
    /// (case-insensitive, surrounding whitespace ignored). Empty text means
    /// `.default`; any other text becomes a `.custom` goal with that text.
    public init(argument: String) {
        let trimmed = argument.trimmingCharacters(in: .whitespacesAndNewlines)
        switch trimmed.lowercased() {
        case "", "default": self = .default
        case "combat": self = .combat
        case "gold": self = .gold
        case "stairs": self = .stairs
        case "zeroknowledge", "zero-knowledge": self = .zeroKnowledge
        default: self = .custom(trimmed)
        }
    }

    /// A short name: `default`, `combat`, `gold`, `stairs`, `zeroknowledge` or `custom`.
    public var name: String {
        switch self {
        case .default: "default"
        case .combat: "combat"
        case .gold: "gold"
        case .stairs: "stairs"
        case .zeroKnowledge: "zeroknowledge"
        case .custom: "custom"
        }
    }

    /// One sentence describing the goal, as it appears in the prompt (empty for zero knowledge).
    public var text: String {
        switch self {
        case .default:
            "Earn the highest score possible by defeating monsters, picking up gold, and travelling ever deeper into the dungeon."
        case .combat:
            "Defeat as many monsters as possible."
        case .gold:
            "Gather as much gold as possible."
        case .stairs:
            "Locate the staircase leading down and descend to deeper dungeon levels as quickly as possible."
        case .zeroKnowledge:
            ""
        case let .custom(description):
            description
        }
    }
}
