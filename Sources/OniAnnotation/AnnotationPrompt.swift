import Foundation
import OniCore

/// How a model gives its label.
public enum LabelMode: String, Sendable, CaseIterable {
    /// A short answer, `<label>yes</label>` or `<label>no</label>`, read by `LabelParser`.
    case tagged
    /// One generated token: the probabilities the model gives to "yes" and "no" as its first
    /// token are compared (`LogProbabilityLabel`), which also yields a confidence.
    case logprob
}

/// What one question to the model is about.
public enum LabelUnit: String, Sendable, CaseIterable, Codable {
    /// The whole game message, as the game shows it.
    case message
    /// Each of the messages the game joined into one line (NetHack puts two spaces between
    /// them): the line shows progress when any of them does, and each is asked and cached on its
    /// own, so "You kill the newt!  The jackal bites!" is decided by the kill, and the same kill
    /// next to another message is answered from the cache.
    case sentence
}

/// The chat prompt that asks a model whether one game message shows progress
/// toward a `Goal`.
///
/// The system text and the few-shot examples depend only on the goal and are
/// byte-identical on every call, so a server can keep that prefix in its KV
/// cache; only the final user message changes from one game message to the next.
public struct AnnotationPrompt: Sendable {
    /// The template version; part of `templateHash`.
    public let version: String
    /// The goal the prompt asks about.
    public let goal: Goal
    /// How the model answers.
    public let mode: LabelMode
    /// In `logprob` mode, the share of P(yes) in P(yes) + P(no) above which the label is
    /// progress (0.5: the likelier word wins). Chosen on held-out labels (`oni label-eval
    /// --choose-threshold`); part of `templateHash` when not 0.5, so cached labels keep the
    /// threshold they were decided with.
    public let threshold: Double
    /// The system message.
    public let systemText: String
    /// The few-shot block: alternating user and assistant messages, one pair per example.
    public let examples: [ChatMessage]

    private let hash: String

    /// The examples shown.
    public let fewShot: FewShotExamples

    /// The P(yes) threshold Oni's log-probability prompt (`oni-label-logprob-v2`, the built-in
    /// examples, asked per sentence) is run with by default for `goal`: the one with the best κ
    /// on the development part of the labelled NetHack set under that goal with the local
    /// Qwen2.5-Coder-1.5B judge (`oni label-eval SET --goal G --choose-threshold` chose 0.852 for
    /// `default`, 0.671 for `combat` and 0.726 for `gold`). `stairs` has too few positives in the
    /// set to choose by; it and free-text goals take the default goal's. Another model, prompt or
    /// examples file should have its own chosen the same way (`--logprob-threshold`).
    public static func calibratedThreshold(for goal: Goal) -> Double {
        switch goal {
        case .combat: 0.67
        case .gold: 0.73
        case .default, .stairs, .zeroKnowledge, .custom: 0.85
        }
    }

    /// Whether a game message is asked whole or sentence by sentence (Oni's prompts only; ONI's
    /// always ask the whole message). Part of `templateHash` when `.sentence`.
    public let unit: LabelUnit
    /// Whose prompts: Oni's own or ONI's (`ONIPrompts`).
    public let style: PromptStyle

    /// Builds the prompt for `goal`, answered as `mode` asks, with `fewShot`'s examples and
    /// `threshold` (nil: the one chosen for the goal, `calibratedThreshold(for:)`); with
    /// `style` `.oni` (or `.oniReworded`), ONI's chain-of-thought prompt instead (tagged only:
    /// its label comes after the reasoning, not as a first token).
    public init(goal: Goal, mode: LabelMode = .tagged, fewShot: FewShotExamples = .builtIn, threshold: Double? = 0.5, style: PromptStyle = .default, unit: LabelUnit = .message) {
        self.goal = goal
        self.unit = style == .default ? unit : .message
        self.style = style
        self.mode = style == .default ? mode : .tagged
        self.threshold = self.mode == .logprob ? threshold ?? Self.calibratedThreshold(for: goal) : 0.5
        self.fewShot = fewShot
        let goalLine = goal.text.isEmpty ? "No goal is given: judge by what you know of the game." : "The player's goal: \(goal.text)"
        let task = """
            You judge messages from a dungeon-crawling game in the style of NetHack. \
            \(goalLine)
            For each game message you are shown, decide whether it shows that the player has just made \
            progress toward this goal, or has clearly moved closer to achieving it. Messages that are \
            neutral, purely descriptive, or unrelated to the goal do not count as progress.
            A message may hold several sentences: it shows progress when any one of them does.
            Only what the player does counts: what a pet or a monster does is not the player's progress, \
            and recovering from hunger, confusion or an injury is not progress either.
            """
        switch style == .default ? self.mode : nil {
        case nil:
            version = "oni-paper-label-v1"
            systemText = ONIPrompts.system
        case .tagged?:
            version = "oni-label-v2"
            systemText = task + """

                Reply with exactly <label>yes</label> if the message shows progress, or exactly \
                <label>no</label> if it does not. Do not write anything else.
                """
        case .logprob?:
            version = "oni-label-logprob-v2"
            systemText = task + """

                Reply with one word: yes if the message shows progress, no if it does not.
                """
        }
        // ONI's examples are part of its question.
        examples = style != .default ? [] : fewShot.examples.indices.flatMap { i in
            [ChatMessage.user(Self.question(fewShot.examples[i].message)), ChatMessage.assistant(Self.answer(fewShot.progress(i, toward: goal), mode: mode))]
        }
        var material = version + "\n" + systemText
        if style != .default { material += "\n" + ONIPrompts.labelPrompt(goal: goal, message: "{message}") }
        if self.threshold != 0.5 { material += "\nthreshold P(yes) > \(self.threshold)" }
        if self.unit == .sentence { material += "\nunit: sentence" }
        for message in examples {
            material += "\n" + message.role + "\n" + message.content
        }
        hash = String(SHA256.hex(material).prefix(16))
    }

    /// The first 16 hex digits of the SHA-256 of the version, system text and
    /// examples: identifies the exact template a label answers.
    public var templateHash: String { hash }

    /// The whole template as text, for the record: version, system message, examples, and the
    /// question with `{message}` where the game message goes.
    public var templateText: String {
        ([version + (threshold == 0.5 ? "" : " (label = P(yes) > \(threshold))") + (unit == .sentence ? " (asked per sentence; any yes is yes)" : ""),
          "[system]\n" + systemText] + examples.map { "[\($0.role)]\n" + $0.content }
            + ["[user]\n" + question("{message}")])
            .joined(separator: "\n")
    }

    /// The full conversation for one game message: the system message, the
    /// few-shot examples, then a user message asking about `gameMessage`.
    public func messages(for gameMessage: String) -> [ChatMessage] {
        var messages = [ChatMessage.system(systemText)]
        messages.reserveCapacity(examples.count + 2)
        messages.append(contentsOf: examples)
        messages.append(.user(question(gameMessage.trimmingCharacters(in: .whitespacesAndNewlines))))
        return messages
    }

    /// What is asked about `gameMessage`: the message itself, or with `.sentence` each of the
    /// messages the game joined with two or more spaces (blank ones dropped; duplicates asked once).
    public func questions(in gameMessage: String) -> [String] {
        let whole = gameMessage.trimmingCharacters(in: .whitespacesAndNewlines)
        guard unit == .sentence else { return [whole] }
        var parts: [String] = []
        for part in whole.split(separator: "  ", omittingEmptySubsequences: true) {
            let text = part.trimmingCharacters(in: .whitespaces)
            if !text.isEmpty, !parts.contains(text) { parts.append(text) }
        }
        return parts.isEmpty ? [whole] : parts
    }

    /// The label in a tagged reply.
    public func parse(_ reply: String) -> LabelOutcome {
        style == .default ? LabelParser.parse(reply) : ONIPrompts.parseLabel(reply)
    }

    /// What a tagged request asks of the server beyond the conversation: ONI's reasoning needs
    /// room and ONI samples at 0.1; Oni's one-word answer takes the backend's settings.
    public var replyTokens: Int? { style == .default ? nil : ONIPrompts.maxTokens }
    public var temperature: Double? { style == .default ? nil : ONIPrompts.temperature }

    private func question(_ gameMessage: String) -> String {
        style == .default ? Self.question(gameMessage) : ONIPrompts.labelPrompt(goal: goal, message: gameMessage)
    }

    private static func question(_ gameMessage: String) -> String {
        "Game message: \(gameMessage)"
    }

    private static func answer(_ progress: Bool, mode: LabelMode) -> String {
        switch mode {
        case .tagged: progress ? "<label>yes</label>" : "<label>no</label>"
        case .logprob: progress ? "yes" : "no"
        }
    }
}
