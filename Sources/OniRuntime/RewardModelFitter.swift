import Foundation
import OniCore
import OniLearning
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
    /// The classification threshold, for the held-out accuracy.
    public var threshold = 0.5

    public init(runDirectory: String, kind: IntrinsicRewardType) {
        self.runDirectory = runDirectory
        self.kind = kind
    }

    /// Fits and writes the model to `output`; `progress(step, loss)` every 10% of the steps.
    public func fit(output: String, progress: (Int, Double) -> Void) throws -> Report {
        guard kind == .classification || kind == .ranking else {
            throw RuntimeError.invalidConfiguration("--reward must be classification or ranking, got \(kind.rawValue)")
        }
        let store = try RunStore(runDirectory: URL(fileURLWithPath: runDirectory), readOnly: true)
        defer { store.close() }
        let messages = try store.messages()
        var rng = SeededGenerator(seed: seed)
        var report = Report()
        let rounds = 10, perRound = max(1, steps / rounds)
        if kind == .classification {
            var train: [(text: String, label: Float, weight: Float)] = [], heldOut: [(text: String, label: Float)] = []
            for message in messages {
                guard let label = message.label else { continue }
                if message.id % 10 == 0 { heldOut.append((message.text, label)) } else { train.append((message.text, label, message.confidence)) }
            }
            guard train.count >= 2 else {
                throw RuntimeError.invalidConfiguration("\(runDirectory) holds \(train.count) labelled messages for training; at least 2 are needed")
            }
            let model = MessageClassifier(seed: seed &+ 101)
            for round in 1...rounds {
                report.loss = model.train(on: train, steps: perRound, rng: &rng)
                progress(round * perRound, report.loss)
            }
            if !heldOut.isEmpty {
                let p = model.probabilities(heldOut.map(\.text))
                report.heldOutAccuracy = Double(zip(p, heldOut).filter { ($0 > threshold) == ($1.label > 0.5) }.count) / Double(heldOut.count)
            }
            (report.trainExamples, report.heldOutExamples) = (train.count, heldOut.count)
            try model.save(to: output)
            report.version = model.version
        } else {
            let texts = Dictionary(uniqueKeysWithValues: messages.map { ($0.id, $0.text) })
            var train: [(first: String, second: String, preference: Float)] = [], heldOut: [(first: String, second: String, preference: Float)] = []
            for pair in try store.pairs() {
                guard let preference = pair.preference, let a = texts[pair.firstID], let b = texts[pair.secondID] else { continue }
                if pair.id % 10 == 0 { heldOut.append((a, b, preference)) } else { train.append((a, b, preference)) }
            }
            guard !train.isEmpty else { throw RuntimeError.invalidConfiguration("\(runDirectory) holds no judged pairs for training") }
            let model = MessageRanker(seed: seed &+ 103)
            for round in 1...rounds {
                report.loss = model.train(on: train, steps: perRound, rng: &rng)
                progress(round * perRound, report.loss)
            }
            report.heldOutAccuracy = model.accuracy(on: heldOut)
            (report.trainExamples, report.heldOutExamples) = (train.count, heldOut.count)
            try model.save(to: output)
            report.version = model.version
        }
        return report
    }
}
