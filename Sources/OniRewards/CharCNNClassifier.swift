import Foundation
import OniCore
import OniNeural

/// A character-CNN message classifier (`--reward-model char-cnn`), in the manner of ONI's
/// `ClassificationRewardModel`: the message's bytes (zero-padded to 256, as NLE's message
/// field) are embedded (16 per byte), pass two 1-D convolutions with ELU (32 filters, widths 5
/// and 3) and a max over positions, then an MLP (64 ReLU units) gives the logit of "progress".
/// Smaller than ONI's (six convolutions, 512-unit MLP) so that a training round stays cheap on
/// the learner's CPU. Trained as the n-gram classifier is: confidence-weighted binary
/// cross-entropy, Adam, the same schedule.
public final class CharCNNClassifier: TrainedRewardModel {
    public static let figureStem = "reward/classifier"
    public static let examplesFigure = "reward/classifier_examples"
    public static let seedOffset: UInt64 = 107
    /// Bytes read of a message (NLE's message field).
    public static let length = 256
    /// The file tag of its weights (`RewardModelFile`): a file of the n-gram model is refused.
    public static let features = "char-cnn-bytes-\(length)"

    private let embedding: Embedding<Float>
    private let conv0: Conv2d<Float>
    private let conv1: Conv2d<Float>
    private let pool: GlobalMaxPool<Float>
    private let hidden: Linear<Float>
    private let relu = Activation<Float>(.relu, size: 64)
    private let out: Linear<Float>
    private let optimizer: Adam<Float>
    public private(set) var version = 0

    public var parameters: [Parameter<Float>] {
        embedding.parameters + conv0.parameters + conv1.parameters + hidden.parameters + out.parameters
    }

    public convenience init(seed: UInt64) { self.init(seed: seed, learningRate: 1e-3) }

    public init(seed: UInt64, learningRate: Float) {
        var rng = SeededGenerator(seed: seed)
        let n = Self.length
        embedding = Embedding(name: "charcnn.embed", vocabulary: 256, dimension: 16, count: n, rng: &rng)
        conv0 = Conv2d(name: "charcnn.conv0", channels: 16, length: n, filters: 32, kernel: 5, padding: 2, activation: .elu, rng: &rng)
        conv1 = Conv2d(name: "charcnn.conv1", channels: 32, length: n, filters: 32, kernel: 3, padding: 1, activation: .elu, rng: &rng)
        pool = GlobalMaxPool(channels: 32, positions: n)
        hidden = Linear(name: "charcnn.hidden", inputSize: 32, outputSize: 64, rng: &rng)
        out = Linear(name: "charcnn.out", inputSize: 64, outputSize: 1, gain: 1, rng: &rng)
        optimizer = Adam(parameters: embedding.parameters + conv0.parameters + conv1.parameters + hidden.parameters + out.parameters,
                         learningRate: learningRate, maxGradientNorm: 4)
    }

    /// The bytes of each text, Latin-1 as NLE gives them, cut or zero-padded to `length`.
    static func bytes(_ texts: [String]) -> [Int32] {
        var indices = [Int32](repeating: 0, count: texts.count * length)
        for (row, text) in texts.enumerated() {
            for (i, scalar) in text.unicodeScalars.prefix(length).enumerated() { indices[row * length + i] = Int32(min(scalar.value, 255)) }
        }
        return indices
    }

    private func logits(_ texts: [String]) -> [Float] {
        let n = texts.count
        let embedded = embedding.forward(Self.bytes(texts), batch: n)
        let features = pool.forward(conv1.forward(conv0.forward(embedded, batch: n), batch: n), batch: n)
        return out.forward(relu.forward(hidden.forward(features, batch: n), batch: n), batch: n)
    }

    private func backward(_ dLogits: [Float]) {
        let dFeatures = hidden.backward(relu.backward(out.backward(dLogits)))
        embedding.backward(conv0.backward(conv1.backward(pool.backward(dFeatures))))
    }

    /// P(progress) for each message.
    public func probabilities(_ texts: [String]) -> [Double] {
        guard !texts.isEmpty else { return [] }
        // In chunks: the activations of 256 positions per message add up.
        return stride(from: 0, to: texts.count, by: 256).flatMap { start in
            logits(Array(texts[start..<min(start + 256, texts.count)])).map { 1 / (1 + Foundation.exp(-Double($0))) }
        }
    }

    public func outputs(_ texts: [String]) -> [Double] { probabilities(texts) }

    public func train(on examples: [LabelledMessage], steps: Int, rng: inout SeededGenerator, until interrupted: TrainingInterruption) -> Double {
        guard !examples.isEmpty, steps > 0 else { return .nan }
        var loss = Double.nan
        for _ in 0..<steps {
            if interrupted() { break }
            let picks = (0..<min(32, examples.count)).map { _ in rng.below(examples.count) }
            let z = logits(picks.map { examples[$0].text })
            let (l, dz) = MessageClassifier.binaryCrossEntropy(
                logits: z, labels: picks.map { examples[$0].label }, weights: picks.map { examples[$0].weight })
            loss = l
            backward(dz)
            optimizer.step()
        }
        version += 1
        return loss
    }

    public func save(to path: String) throws {
        try RewardModelFile.save(parameters, optimizer: optimizer, kind: .classification, version: version, features: Self.features, to: path)
    }

    public func load(from path: String) throws(RewardModelFileError) {
        version = try RewardModelFile.load(into: parameters, optimizer: optimizer, kind: .classification, features: Self.features, from: path)
    }
}
