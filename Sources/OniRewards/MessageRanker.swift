import Foundation
import OniCore
import OniNeural

/// ONI's ranking reward model: a score s(message) fitted to the LLM's pairwise
/// judgements with the Bradley–Terry model, P(first beats second) = σ(s₁ − s₂).
/// A tie counts as half a win each way. The score is an MLP (64 ReLU units) on
/// `MessageFeatures`, so messages never compared get a score too.
public final class MessageRanker: TrainedRewardModel {
    public static let figureStem = "reward/ranker"
    public static let examplesFigure = "reward/ranker_pairs"
    public static let seedOffset: UInt64 = 103

    public static let hiddenUnits = 64
    private let first: Linear<Float>
    private let relu = Activation<Float>(.relu, size: hiddenUnits)
    private let second: Linear<Float>
    private let optimizer: Adam<Float>
    private let features = MessageFeatures()
    /// Incremented by every training round: scores from an older version are stale.
    public private(set) var version = 0

    public convenience init(seed: UInt64) { self.init(seed: seed, learningRate: 3e-3) }

    public init(seed: UInt64, learningRate: Float) {
        var rng = SeededGenerator(seed: seed)
        first = Linear(name: "ranker.hidden", inputSize: MessageFeatures.buckets, outputSize: Self.hiddenUnits, rng: &rng)
        second = Linear(name: "ranker.out", inputSize: Self.hiddenUnits, outputSize: 1, gain: 1, rng: &rng)
        optimizer = Adam(parameters: first.parameters + second.parameters, learningRate: learningRate, maxGradientNorm: 4)
    }

    /// The parameters, for checkpoints.
    public var parameters: [Parameter<Float>] { first.parameters + second.parameters }

    private func forward(_ texts: [String]) -> [Float] {
        let n = texts.count
        return second.forward(relu.forward(first.forward(features.dense(texts), batch: n), batch: n), batch: n)
    }

    /// s(message) for each text.
    public func scores(_ texts: [String]) -> [Double] {
        texts.isEmpty ? [] : forward(texts).map(Double.init)
    }

    /// The score, the output its pay rule reads.
    public func outputs(_ texts: [String]) -> [Double] { scores(texts) }

    public static let annotation = AnnotationNeed.pairs
    public static let minimumExamples = 1
    public static func answered(messages: MessageRegistry, pairs: PairTable) -> Int { pairs.judgedCount }

    public static func examples(messages: MessageRegistry, pairs: PairTable) -> RewardExamples<JudgedPair> {
        RewardExamples(judgementsOf: pairs, messages: messages)
    }

    /// Held-out pairs whose winner the scores rank higher (ties left out).
    public func heldOutAccuracy(_ heldOut: [JudgedPair], rule: FittedPayRule) -> Double? { accuracy(on: heldOut) }

    public func train(on pairs: [JudgedPair], steps: Int, rng: inout SeededGenerator, until interrupted: TrainingInterruption) -> Double {
        train(on: pairs, steps: steps, batchSize: 32, rng: &rng, until: interrupted)
    }

    /// The Bradley–Terry loss of score differences d = s(first) − s(second) against
    /// preferences p (1 first, 0 second, 0.5 tie), averaged: p·softplus(−d) + (1−p)·softplus(d),
    /// which is binary cross-entropy with logit d; its gradient is (σ(d) − p)/n.
    public static func bradleyTerry(differences: [Float], preferences: [Float]) -> (loss: Double, gradient: [Float]) {
        MessageClassifier.binaryCrossEntropy(logits: differences, labels: preferences)
    }

    /// `steps` Adam steps on mini-batches of judged pairs drawn with `rng`; returns the last loss.
    @discardableResult
    public func train(
        on pairs: [JudgedPair], steps: Int, batchSize: Int = 32, rng: inout SeededGenerator,
        until interrupted: TrainingInterruption = { false }
    ) -> Double {
        guard !pairs.isEmpty, steps > 0 else { return .nan }
        var loss = Double.nan
        for _ in 0..<steps {
            if interrupted() { break }
            let picks = (0..<min(batchSize, pairs.count)).map { _ in rng.below(pairs.count) }
            let k = picks.count
            // Both sides in one batch: rows 0..<k the first messages, k..<2k the second.
            let s = forward(picks.map { pairs[$0].first } + picks.map { pairs[$0].second })
            let d = (0..<k).map { s[$0] - s[k + $0] }
            let (l, dd) = Self.bradleyTerry(differences: d, preferences: picks.map { pairs[$0].preference })
            loss = l
            _ = first.backward(relu.backward(second.backward(dd + dd.map { -$0 })))
            optimizer.step()
        }
        version += 1
        return loss
    }

    /// Fraction of decided pairs (not ties) whose winner the scores rank higher.
    public func accuracy(on pairs: [JudgedPair]) -> Double? {
        let decided = pairs.filter { $0.preference != 0.5 }
        guard !decided.isEmpty else { return nil }
        let a = scores(decided.map(\.first)), b = scores(decided.map(\.second))
        let right = decided.indices.filter { (a[$0] > b[$0]) == (decided[$0].preference > 0.5) }.count
        return Double(right) / Double(decided.count)
    }

    /// Writes the weights and the optimiser's state (`RewardModelFile`).
    public func save(to path: String) throws {
        try RewardModelFile.save(parameters, optimizer: optimizer, kind: .ranking, version: version, to: path)
    }

    /// Reads weights (and the optimiser's state, when kept) written by `save`; the version continues from the file's.
    public func load(from path: String) throws(RewardModelFileError) {
        version = try RewardModelFile.load(into: parameters, optimizer: optimizer, kind: .ranking, from: path)
    }
}
