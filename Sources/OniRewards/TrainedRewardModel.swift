import OniCore

/// Asked before each training step of a reward model: true stops the round there (its owner is
/// shutting down and wants the weights now).
public typealias TrainingInterruption = () -> Bool

/// A text model the learner trains online on what the annotator says (labels or pair
/// judgements) so that every message, judged or not, gets an output: the classifier's P(progress)
/// or the ranker's Bradley–Terry score. What that output pays is the `MessagePayRule`'s business.
#if compiler(>=6.2)
/// What a model's type must be to be used on the model's own thread.
public protocol RewardModelType: AnyObject, SendableMetatype {}
#else
public protocol RewardModelType: AnyObject {}
#endif

public protocol TrainedRewardModel: RewardModelType {
    associatedtype Example: Sendable

    /// Where its reward/* figures are named from (`reward/classifier` → `reward/classifier_loss`, …).
    static var figureStem: String { get }
    /// The figure counting its training examples (`reward/classifier_examples`, `reward/ranker_pairs`).
    static var examplesFigure: String { get }

    init(seed: UInt64)
    /// Added to a run's seed for the model's initial weights (each model its own, so the
    /// classifier and the ranker of one seed start apart; the learner and `fit-reward` agree).
    static var seedOffset: UInt64 { get }

    /// Incremented by every training round: outputs of an older version are stale.
    var version: Int { get }

    /// What it learns from: labels of messages or judgements of pairs.
    static var annotation: AnnotationNeed { get }
    /// How many of those the annotator has answered (a change starts a training burst).
    static func answered(messages: MessageRegistry, pairs: PairTable) -> Int
    /// Training examples it needs before its first round.
    static var minimumExamples: Int { get }

    /// The examples the annotator's answers so far make (every tenth held out).
    static func examples(messages: MessageRegistry, pairs: PairTable) -> RewardExamples<Example>

    /// `steps` Adam steps on mini-batches drawn with `rng`; returns the last loss.
    func train(on examples: [Example], steps: Int, rng: inout SeededGenerator, until interrupted: TrainingInterruption) -> Double

    /// The model's output for each text.
    func outputs(_ texts: [String]) -> [Double]

    /// How well it does on examples it did not train on (reward/* figures), nil when it cannot say.
    func heldOutAccuracy(_ heldOut: [Example], rule: FittedPayRule) -> Double?

    /// Writes the weights and the optimiser's state (`RewardModelFile`).
    func save(to path: String) throws
    /// Reads what `save` wrote; the version continues from the file's.
    func load(from path: String) throws(RewardModelFileError)
}

/// What every classifier shares: it learns the labels of messages, and is measured by how often
/// its pay agrees with held-out labels.
extension TrainedRewardModel where Example == LabelledMessage {
    public static var annotation: AnnotationNeed { .labels }
    public static var minimumExamples: Int { 2 }
    public static func answered(messages: MessageRegistry, pairs: PairTable) -> Int { messages.labelledCount }

    public static func examples(messages: MessageRegistry, pairs: PairTable) -> RewardExamples<LabelledMessage> {
        RewardExamples(labelsOf: messages)
    }

    /// Held-out messages whose label the rule's pay agrees with (paid or not ↔ progress or not).
    public func heldOutAccuracy(_ heldOut: [LabelledMessage], rule: FittedPayRule) -> Double? {
        guard !heldOut.isEmpty else { return nil }
        let p = outputs(heldOut.map(\.text))
        return Double(zip(p, heldOut).filter { (rule.pay($0) > 0) == ($1.label > 0.5) }.count) / Double(heldOut.count)
    }
}
