/// A game message the learner wants labelled, or two it wants compared.
public struct AnnotationItem: Sendable, Hashable {
    /// The learner's interned id of the message (of the pair, for a comparison).
    public var messageID: UInt64
    /// The message text (the first message of a pair).
    public var text: String
    /// The second message of a pair: the item asks which of the two shows more progress.
    public var secondText: String?

    public init(messageID: UInt64, text: String, secondText: String? = nil) {
        self.messageID = messageID
        self.text = text
        self.secondText = secondText
    }
}

/// How labelling one message ended.
public enum LabelOutcome: Sendable, Hashable {
    /// The model answered; `value` is 1 (progress) or 0 (no progress), `confidence` in [0, 1].
    /// For a pair: 1 (the first shows more progress), 0 (the second), 0.5 (a tie), or 0.25/0.75
    /// when the two orders it was asked in disagree by one step; any value in between when the pair
    /// is decided from the two messages' own labels (`PairJudge.scores`).
    case labelled(value: Float, confidence: Float)
    /// The model replied without a recognisable label. No label is guessed.
    case unparseable(reason: String)
    /// The LLM server could not be used (HTTP error, timeout, refused connection).
    case backendError(reason: String)
    /// The model was asked more than one way (`--label-check`) and its answers disagreed: no
    /// label, and not asked again (asking again would ask the same questions).
    case disagreed(reason: String)
}

/// The annotator's answer for one message.
public struct AnnotationResult: Sendable, Hashable {
    public var messageID: UInt64
    public var outcome: LabelOutcome
    /// Model that produced the reply.
    public var model: String
    /// Hash of the prompt template the reply answers.
    public var promptHash: String
    /// The raw reply, truncated to `maxReplyCharacters`, for audit.
    public var reply: String

    /// Longest raw reply kept in a result, on the wire and in the store.
    public static let maxReplyCharacters = 1024

    public init(messageID: UInt64, outcome: LabelOutcome, model: String, promptHash: String, reply: String) {
        self.messageID = messageID
        self.outcome = outcome
        self.model = model
        self.promptHash = promptHash
        self.reply = reply
    }
}
