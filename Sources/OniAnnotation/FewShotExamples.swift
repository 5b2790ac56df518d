import Foundation

/// The few-shot examples the prompts show the model: game messages with the goals
/// each shows progress toward. A versioned JSON document — the built-in one, or a
/// user's file (`oni-annotator --llm-examples FILE.json`):
///
/// ```json
/// {"version": "my-examples-1",
///  "examples": [{"message": "You kill the newt!", "progress_for": ["default", "combat"]}, …]}
/// ```
///
/// Goal names are `default`, `combat`, `gold` and `stairs`; a free-text goal is answered
/// like `default`. The label prompt shows every example; the pair prompt compares
/// neighbours (example i with i+1), at most five pairs.
public struct FewShotExamples: Sendable, Codable, Equatable {
    public struct Example: Sendable, Codable, Equatable {
        public var message: String
        /// The goals this message shows progress toward.
        public var progressFor: [String]

        public init(message: String, progressFor: [String]) {
            self.message = message
            self.progressFor = progressFor
        }

        enum CodingKeys: String, CodingKey {
            case message
            case progressFor = "progress_for"
        }
    }

    public var version: String
    public var examples: [Example]

    public init(version: String, examples: [Example]) {
        self.version = version
        self.examples = examples
    }

    /// Whether example `index` shows progress toward `goal` (a free-text goal, and no goal at
    /// all, are answered as the default goal is: progress in the game).
    public func progress(_ index: Int, toward goal: Goal) -> Bool {
        let name = switch goal {
        case .custom, .zeroKnowledge: "default"
        default: goal.name
        }
        return examples[index].progressFor.contains(name)
    }

    /// The goal names an example may list.
    public static let goalNames: Set<String> = ["default", "combat", "gold", "stairs"]

    /// Reads and checks a user's examples file.
    public static func load(path: String) throws(FewShotExamplesError) -> FewShotExamples {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
        let decoded: FewShotExamples
        do {
            decoded = try JSONDecoder().decode(FewShotExamples.self, from: data)
        } catch {
            throw .invalid(path: path, reason: "not an examples document: \(error)")
        }
        try decoded.validate(path: path)
        return decoded
    }

    func validate(path: String) throws(FewShotExamplesError) {
        guard !version.trimmingCharacters(in: .whitespaces).isEmpty else { throw .invalid(path: path, reason: "empty version") }
        guard examples.count >= 2 else { throw .invalid(path: path, reason: "needs at least two examples") }
        for (i, example) in examples.enumerated() {
            guard !example.message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw .invalid(path: path, reason: "example \(i + 1) has an empty message")
            }
            if let unknown = example.progressFor.first(where: { !Self.goalNames.contains($0) }) {
                throw .invalid(path: path, reason: "example \(i + 1) names unknown goal '\(unknown)' (known: \(Self.goalNames.sorted()))")
            }
        }
    }

    /// The examples Oni ships: the first six since the first version; the rest teach what the
    /// labelled set's rules say and small models miss (gold shown as "$ - N gold pieces.", hits,
    /// a pet's kill is not the player's, recovering is not progress). None is a message of the
    /// set's test part.
    public static let builtIn = FewShotExamples(
        version: "oni-examples-v2",
        examples: [
            Example(message: "You kill the newt!", progressFor: ["default", "combat"]),
            Example(message: "It's a wall.", progressFor: []),
            Example(message: "You find a key.", progressFor: ["default", "stairs"]),
            Example(message: "You hear some noises in the distance.", progressFor: []),
            Example(message: "There is a staircase down here.", progressFor: ["default", "stairs"]),
            Example(message: "You see here 5 gold pieces.", progressFor: ["default", "gold"]),
            Example(message: "$ - 12 gold pieces.", progressFor: ["default", "gold"]),
            Example(message: "The kitten bites the newt.  The newt is killed!", progressFor: []),
            Example(message: "You hit the gnome.  The gnome hits!", progressFor: ["default", "combat"]),
            Example(message: "You see here a scroll labeled ELBIB YLOH.", progressFor: []),
            Example(message: "You miss the sewer rat.  The sewer rat bites!", progressFor: []),
            Example(message: "You hear someone counting money.", progressFor: ["default", "gold"]),
            Example(message: "You faint from lack of food.", progressFor: []),
            Example(message: "You kill the gnome!  The jackal misses!", progressFor: ["default", "combat"]),
            Example(message: "You feel less confused now.", progressFor: []),
            Example(message: "Welcome to experience level 2.", progressFor: ["default", "combat"]),
            Example(message: "The little dog picks up a gold piece.", progressFor: []),
        ])
}

/// Why an examples file cannot be used.
public enum FewShotExamplesError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String)
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path): "cannot read the examples file \(path)"
        case let .invalid(path, reason): "examples file \(path): \(reason)"
        }
    }
}
