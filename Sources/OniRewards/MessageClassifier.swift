import Foundation
import OniCore
import OniNeural

/// ONI's classification reward model: a small text classifier trained online
/// on the LLM's labels, so that messages the LLM has not (yet) labelled get a
/// reward too. A message becomes `MessageFeatures` (hashed character n-grams);
/// an MLP (64 ReLU units) gives the logit of "progress"; binary cross-entropy, Adam.
public final class MessageClassifier: TrainedRewardModel {
    public static let figureStem = "reward/classifier"
    public static let examplesFigure = "reward/classifier_examples"
    public static let seedOffset: UInt64 = 101

    public static let hiddenUnits = 64
    private let first: Linear<Float>
    private let relu = Activation<Float>(.relu, size: hiddenUnits)
    private let second: Linear<Float>
    private let optimizer: Adam<Float>
    /// Incremented by every training round: rewards computed with an older version are stale.
    public private(set) var version = 0

    /// The parameters, for saving.
    public var parameters: [Parameter<Float>] { first.parameters + second.parameters }

    public convenience init(seed: UInt64) { self.init(seed: seed, learningRate: 3e-3) }

    public init(seed: UInt64, learningRate: Float) {
        var rng = SeededGenerator(seed: seed)
        first = Linear(name: "classifier.hidden", inputSize: MessageFeatures.buckets, outputSize: Self.hiddenUnits, rng: &rng)
        second = Linear(name: "classifier.out", inputSize: Self.hiddenUnits, outputSize: 1, gain: 1, rng: &rng)
        optimizer = Adam(parameters: first.parameters + second.parameters, learningRate: learningRate, maxGradientNorm: 4)
    }

    private let features = MessageFeatures()

    private func logits(_ input: [Float], batch: Int) -> [Float] {
        second.forward(relu.forward(first.forward(input, batch: batch), batch: batch), batch: batch)
    }

    /// P(progress) for each message.
    public func probabilities(_ texts: [String]) -> [Double] {
        guard !texts.isEmpty else { return [] }
        return logits(features.dense(texts), batch: texts.count).map { 1 / (1 + Foundation.exp(-Double($0))) }
    }

    /// P(progress), the output its pay rule reads.
    public func outputs(_ texts: [String]) -> [Double] { probabilities(texts) }


    /// Binary cross-entropy with logits, each example weighted (`weights`, default all 1), averaged
    /// over the weights, and its gradient: Σ wᵢ (softplus(zᵢ) − yᵢzᵢ) / Σ wᵢ, dzᵢ = wᵢ (σ(zᵢ) − yᵢ) / Σ wᵢ.
    public static func binaryCrossEntropy(logits: [Float], labels: [Float], weights: [Float]? = nil) -> (loss: Double, gradient: [Float]) {
        let total = weights.map { $0.reduce(0.0) { $0 + Double($1) } } ?? Double(logits.count)
        var loss = 0.0
        var gradient = [Float](repeating: 0, count: logits.count)
        guard total > 0 else { return (0, gradient) }
        for i in logits.indices {
            let z = Double(logits[i]), y = Double(labels[i]), w = Double(weights?[i] ?? 1)
            loss += w * (max(z, 0) + Foundation.log(1 + Foundation.exp(-abs(z))) - y * z)
            gradient[i] = Float(w * (1 / (1 + Foundation.exp(-z)) - y) / total)
        }
        return (loss / total, gradient)
    }

    /// `steps` Adam steps on mini-batches of `examples` (text, label 0/1) drawn with `rng`; returns the last loss.
    @discardableResult
    public func train(on examples: [(text: String, label: Float)], steps: Int, batchSize: Int = 32, rng: inout SeededGenerator) -> Double {
        train(on: examples.map { LabelledMessage(text: $0.text, label: $0.label) }, steps: steps, batchSize: batchSize, rng: &rng)
    }

    public func train(on examples: [LabelledMessage], steps: Int, rng: inout SeededGenerator, until interrupted: TrainingInterruption) -> Double {
        train(on: examples, steps: steps, batchSize: 32, rng: &rng, until: interrupted)
    }

    /// The same, each example's loss weighted by its `weight` (the LLM's confidence in its label:
    /// an answer the model was unsure of moves the classifier less).
    @discardableResult
    public func train(
        on examples: [LabelledMessage], steps: Int, batchSize: Int = 32, rng: inout SeededGenerator,
        until interrupted: TrainingInterruption = { false }
    ) -> Double {
        guard !examples.isEmpty, steps > 0 else { return .nan }
        var loss = Double.nan
        for _ in 0..<steps {
            if interrupted() { break }
            let picks = (0..<min(batchSize, examples.count)).map { _ in rng.below(examples.count) }
            let z = logits(features.dense(picks.map { examples[$0].text }), batch: picks.count)
            let (l, dz) = Self.binaryCrossEntropy(logits: z, labels: picks.map { examples[$0].label }, weights: picks.map { examples[$0].weight })
            loss = l
            _ = first.backward(relu.backward(second.backward(dz)))
            optimizer.step()
        }
        version += 1
        return loss
    }

    /// Writes the weights and the optimiser's state (`RewardModelFile`).
    public func save(to path: String) throws {
        try RewardModelFile.save(parameters, optimizer: optimizer, kind: .classification, version: version, to: path)
    }

    /// Reads weights (and the optimiser's state, when kept) written by `save`; the version continues from the file's.
    public func load(from path: String) throws(RewardModelFileError) {
        version = try RewardModelFile.load(into: parameters, optimizer: optimizer, kind: .classification, from: path)
    }
}
