import OniCore

/// Which game message a step is paid for, and how many times the episode has shown it: the
/// worker's side of N(msg). Oni pays for the message a step produced and leaves steps with no
/// message out; ONI pays for the message the agent saw when it chose its action (the reset's
/// opening message for an episode's first step) and counts the empty message like any other.
public struct MessageAccounting: Sendable {
    /// Whose message a step is paid for.
    public enum Timing: String, Sendable, Codable, CaseIterable {
        /// The message the step produced (Oni's default).
        case after
        /// The message on screen when the action was chosen (ONI's).
        case before
    }

    /// What to do with steps whose message is empty.
    public enum EmptyMessages: String, Sendable, Codable, CaseIterable {
        /// No message: no intrinsic reward, no count (Oni's default).
        case skip
        /// The empty message is a message: interned, counted and annotated like the others (ONI's).
        case count
    }

    public let timing: Timing
    public let empty: EmptyMessages
    /// Per environment: the message the agent sees now, and the episode's count of each message paid for.
    private var onScreen: [String]
    private var episodeCounts: [[String: Int32]]

    public init(timing: Timing = .after, empty: EmptyMessages = .skip, environments: Int) {
        self.timing = timing
        self.empty = empty
        onScreen = Array(repeating: "", count: environments)
        episodeCounts = Array(repeating: [:], count: environments)
    }

    /// Environment `env` started an episode showing `opening`.
    public mutating func started(_ env: Int, opening: String) {
        onScreen[env] = opening
        episodeCounts[env].removeAll(keepingCapacity: true)
    }

    /// Environment `env` took a step with `outcome`; when the episode ended, `opening` is what
    /// the next one opened with. Returns the message the step is paid for and its count in the
    /// episode so far (this step included), or nil when the step pays for no message.
    public mutating func stepped(_ env: Int, _ outcome: StepOutcome, nextOpening opening: String? = nil) -> (message: String, count: Int32)? {
        let paid = timing == .after ? outcome.message : onScreen[env]
        var attributed: (message: String, count: Int32)?
        // A game that failed ends its episode with nothing on screen to pay for.
        if !outcome.truncated && (!paid.isEmpty || empty == .count) {
            let count = episodeCounts[env][paid, default: 0] + 1
            episodeCounts[env][paid] = count
            attributed = (paid, count)
        }
        if outcome.done {
            started(env, opening: opening ?? "")
        } else {
            onScreen[env] = outcome.message
        }
        return attributed
    }
}
