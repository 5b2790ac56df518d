/// What the learner asks the annotator about for a reward.
public enum AnnotationNeed: Sendable, Equatable {
    /// A label per message (retrieval, classification; the others keep labels for analysis).
    case labels
    /// A judgement per pair of messages (ranking).
    case pairs
}

/// r_int of game messages, by message id (the ids the learner's intake gave them). Each of
/// ONI's reward types, and Oni's variants of them, is one implementation; `RewardComposition`
/// scales what they pay by its coefficient and the message's count.
public protocol IntrinsicReward: AnyObject {
    /// What the annotator is asked about for this reward.
    var annotation: AnnotationNeed { get }
    /// r_int of each message, and the version of what decided it (labels seen, model version).
    func rewards(of ids: [UInt64], messages: MessageRegistry) -> (rewards: [Double], version: Int)
    /// After the policy's update `updates`: what the reward learns from the annotations so far.
    func afterUpdate(messages: MessageRegistry, pairs: PairTable, updates: Int64)
    /// reward/* figures.
    var figures: [String: Double] { get }
    /// The weights a checkpoint keeps, for a reward that has any.
    var weights: (any RewardWeights)? { get }
}

/// A reward's weights as checkpoints and `--reward-init` see them.
public protocol RewardWeights: AnyObject {
    /// Starts from saved weights; returns the model version the file held.
    func load(from path: String) throws(RewardModelFileError) -> Int
    /// Saves without waiting (after any running round); `done` gets the error, if any.
    func save(to path: String, done: @escaping @Sendable ((any Error)?) -> Void)
    /// Saves and returns once the weights are on disk (the learner's last save).
    func saveNow(to path: String) throws
}

extension RewardModelWorker: RewardWeights {}

extension IntrinsicReward {
    public var annotation: AnnotationNeed { .labels }
    public func afterUpdate(messages: MessageRegistry, pairs: PairTable, updates: Int64) {}
    public var figures: [String: Double] { [:] }
    public var weights: (any RewardWeights)? { nil }
}

/// `--reward none`: the game's reward alone.
public final class NoIntrinsicReward: IntrinsicReward {
    public init() {}

    public func rewards(of ids: [UInt64], messages: MessageRegistry) -> (rewards: [Double], version: Int) {
        (ids.map { _ in 0 }, 0)
    }
}

/// ONI's retrieval (`online_cls`): a message pays its LLM label (1 progress, 0 not); one not yet
/// labelled pays 0. The version is the number of labels known.
public final class RetrievalReward: IntrinsicReward {
    public init() {}

    public func rewards(of ids: [UInt64], messages: MessageRegistry) -> (rewards: [Double], version: Int) {
        (ids.map { messages.entry($0)?.label.map(Double.init) ?? 0 }, messages.labelledCount)
    }
}

/// An ELLM-style baseline without the LLM (ONI's `cosine-bow`): the cosine similarity of the
/// message's and the goal text's character n-gram features, from `threshold` up (else 0).
public final class CosineReward: IntrinsicReward {
    private let goalText: String
    private let threshold: Double
    /// Per message id: it never changes.
    private var known: [UInt64: Double] = [:]

    public init(goalText: String, threshold: Double) {
        self.goalText = goalText
        self.threshold = threshold
    }

    public func rewards(of ids: [UInt64], messages: MessageRegistry) -> (rewards: [Double], version: Int) {
        let rewards = ids.map { id -> Double in
            if let value = known[id] { return value }
            let similarity = messages.entry(id).map { MessageFeatures.cosine($0.text, goalText) } ?? 0
            let reward = similarity >= threshold ? similarity : 0
            known[id] = reward
            return reward
        }
        return (rewards, 0)
    }
}

/// A reward paid by a text model trained online (ONI's classification and ranking): the model
/// trains on its own thread on ONI's schedule — a burst of 50 steps when new labels or judged
/// pairs arrived, 5 steady ones every 20 updates, a scoring-only round when new messages
/// appeared — and each message pays what the latest published round gave it.
public final class TrainedReward<Model: TrainedRewardModel>: IntrinsicReward {
    private let worker: RewardModelWorker<Model>
    /// What the model last trained on (examples) and the messages it last scored.
    private var trainedOn = -1
    private var scoredMessages = 0

    public init(model: Model, rule: any MessagePayRule) {
        worker = RewardModelWorker(model: model, rule: rule)
    }

    public var annotation: AnnotationNeed { Model.annotation }
    public var weights: (any RewardWeights)? { worker }
    public var figures: [String: Double] { worker.published.figures }
    /// Whether a round is under way.
    public var isBusy: Bool { worker.isBusy }

    public func rewards(of ids: [UInt64], messages: MessageRegistry) -> (rewards: [Double], version: Int) {
        let published = worker.published
        return (ids.map { published.rewards[$0] ?? 0 }, published.version)
    }

    public func afterUpdate(messages: MessageRegistry, pairs: PairTable, updates: Int64) {
        guard !worker.isBusy else { return }
        let examplesNow = Model.answered(messages: messages, pairs: pairs)
        let newMessages = messages.count != scoredMessages
        let steps = examplesNow != trainedOn ? 50 : (updates % 20 == 0 ? 5 : 0)
        guard steps > 0 || (newMessages && worker.published.version > 0) else { return }
        let examples = Model.examples(messages: messages, pairs: pairs)
        guard examples.train.count >= Model.minimumExamples else { return }
        let entries = messages.entries.sorted { $0.key < $1.key }
        let job = RewardModelWorker<Model>.Job(
            examples: examples, steps: steps, ids: entries.map(\.key), texts: entries.map(\.value.text),
            counts: entries.map { Double(max($0.value.count, 1)) })
        if worker.submit(job) {
            trainedOn = examplesNow
            scoredMessages = messages.count
        }
    }
}
