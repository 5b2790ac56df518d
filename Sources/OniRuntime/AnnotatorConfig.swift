import Foundation
import OniAnnotation
import OniStorage
import OniWire

/// Everything the annotator needs. The `oni-annotator` flags map onto these fields.
public struct AnnotatorConfig: Sendable {
    /// Id reported in replies and logs.
    public var id = "annotator-0"
    /// Where learners send AnnotationRequests (ROUTER).
    public var bind = AnnotatorConfig.defaultBind
    /// The default of `bind`.
    public static let defaultBind = "tcp://*:5560"
    /// Where to write the endpoint actually bound (a port the system chose, for `oni run`); nil = nowhere.
    public var endpointFile: String?
    /// The OpenAI-compatible LLM server.
    public var llm: LLMServerConfig
    /// Requests waiting beyond this are dropped, oldest first (learners re-send after their timeout).
    public var maxQueuedRequests = 256
    /// Requests labelled at once. Each labels its messages concurrently, so the
    /// number of LLM calls in flight is bounded by `llm.maxConcurrentRequests`, not by this.
    public var maxConcurrentRequests = 4
    /// Frames larger than this are refused.
    public var maxFrameBytes = WireProtocol.defaultMaxFrameBytes
    /// The label cache shared across runs (SQLite); nil asks the LLM about every message.
    public var cachePath: String? = SQLiteLabelCache.defaultPath
    /// The few-shot examples the prompts show.
    public var fewShot = FewShotExamples.builtIn
    /// How the model answers: a tagged word, or its first token's yes/no probabilities.
    public var labelMode = LabelMode.tagged
    /// Whose prompts (Oni's or ONI's).
    public var promptStyle = PromptStyle.default
    /// In `logprob` mode, the P(yes) share above which a message is progress (see
    /// `AnnotationPrompt.threshold`); nil: the one chosen for the goal
    /// (`AnnotationPrompt.calibratedThreshold(for:)`).
    public var logprobThreshold: Double?
    /// Whether a label must agree with itself, asked more than one way (see `LabelCheck`).
    public var labelCheck = LabelCheck.none
    /// Whether messages are asked whole or sentence by sentence (see `LabelUnit`).
    public var labelUnit = LabelUnit.sentence
    /// How pairs are compared for the ranking reward.
    public var pairJudge = PairJudge.prompt
    /// Seconds between statistics lines in the log.
    public var statsIntervalSeconds = 10.0
    /// While a request is being labelled, what is finished goes back every this many seconds as a
    /// partial reply (0: only whole replies). Keeps a large request to a slow LLM from waiting
    /// for its slowest item, and from outliving the learner's timeout.
    public var partialReplySeconds = 10.0

    public init(llm: LLMServerConfig) {
        self.llm = llm
    }
}
