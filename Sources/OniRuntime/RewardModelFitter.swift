import Foundation
import OniCore
import OniRewards
import OniStorage

/// `oni replay fit-reward`: fits the classification or ranking model offline
/// (Motif-style) from the labels or pair judgements a run stored, and writes it
/// where a learner can start from it (`--reward-init`). Every tenth message (by id)
/// or pair is held out, as in the learner.
public struct RewardModelFitter {
    public struct Report: Sendable {
        public var trainExamples = 0
        public var heldOutExamples = 0
        public var loss = Double.nan
        /// Held-out accuracy, when there is held-out data (ties left out for ranking).
        public var heldOutAccuracy: Double?
        public var version = 0
    }

    public let runDirectory: String
    public let kind: IntrinsicRewardType
    public var steps = 2000
    public var seed: UInt64 = 1
    /// The text model to fit.
    public var textModel = RewardTextModel.ngram
    /// The classification threshold, for the held-out accuracy.
    public var threshold = 0.5

    public init(runDirectory: String, kind: IntrinsicRewardType) {
        self.runDirectory = runDirectory
        self.kind = kind
    }

    /// Fits and writes the model to `output`; `progress(step, loss)` every 10% of the steps.
    public func fit(output: String, progress: (Int, Double) -> Void) throws -> Report {
        guard let model = kind.trainedModel(textModel) else {
            throw RuntimeError.invalidConfiguration(
                "--reward \(kind.rawValue) with --reward-model \(textModel.rawValue): fit classification (n-gram or char-cnn) or ranking (n-gram)")
        }
        let store = try RunStore(runDirectory: URL(fileURLWithPath: runDirectory), readOnly: true)
        defer { store.close() }
        // The run's annotations as the learner holds them, so the examples (and the held-out ones) are the learner's.
        var messages = MessageRegistry()
        for row in try store.messages() { messages.restore(row) }
        var pairs = PairTable()
        for row in try store.pairs() { pairs.restore(row) }
        return try fit(model, messages: messages, pairs: pairs, output: output, progress: progress)
    }

    private func fit<Model: TrainedRewardModel>(
        _: Model.Type, messages: MessageRegistry, pairs: PairTable, output: String, progress: (Int, Double) -> Void
    ) throws -> Report {
        let examples = Model.examples(messages: messages, pairs: pairs)
        guard examples.train.count >= Model.minimumExamples else {
            let what = Model.annotation == .pairs ? "judged pairs" : "labelled messages"
            throw RuntimeError.invalidConfiguration(
                "\(runDirectory) holds \(examples.train.isEmpty ? "no" : "only \(examples.train.count)") \(what) for training; "
                    + "at least \(Model.minimumExamples) are needed")
        }
        let model = Model(seed: seed &+ Model.seedOffset)
        var rng = SeededGenerator(seed: seed)
        var report = Report()
        let rounds = 10, perRound = max(1, steps / rounds)
        for round in 1...rounds {
            report.loss = model.train(on: examples.train, steps: perRound, rng: &rng, until: { false })
            progress(round * perRound, report.loss)
        }
        var composition = RewardComposition()
        composition.type = kind
        composition.classificationThreshold = threshold
        let entries = messages.entries.sorted { $0.key < $1.key }.map(\.value)
        let rule = composition.payRule!.fitted(outputs: model.outputs(entries.map(\.text)), counts: entries.map { Double(max($0.count, 1)) })
        report.heldOutAccuracy = model.heldOutAccuracy(examples.heldOut, rule: rule)
        (report.trainExamples, report.heldOutExamples) = (examples.train.count, examples.heldOut.count)
        try model.save(to: output)
        report.version = model.version
        return report
    }
}
