import Foundation
import OniCore
import OniNeural

/// ONI's classification reward model: a small text classifier trained online
/// on the LLM's labels, so that messages the LLM has not (yet) labelled get a
/// reward too. A message becomes a bag of hashed character 1- to 3-grams
/// (lower-cased, 4,096 buckets, L2-normalised); an MLP (64 ReLU units) gives
/// the logit of "progress"; binary cross-entropy, Adam.
public final class MessageClassifier {
    public static let buckets = 4096
    public static let hiddenUnits = 64
    private let first: Linear<Float>
    private let relu = Activation<Float>(.relu, size: hiddenUnits)
    private let second: Linear<Float>
    private let optimizer: Adam<Float>
    /// Incremented by every training round: rewards computed with an older version are stale.
    public private(set) var version = 0

    public init(seed: UInt64, learningRate: Float = 3e-3) {
        var rng = SeededGenerator(seed: seed)
        first = Linear(name: "classifier.hidden", inputSize: Self.buckets, outputSize: Self.hiddenUnits, rng: &rng)
        second = Linear(name: "classifier.out", inputSize: Self.hiddenUnits, outputSize: 1, gain: 1, rng: &rng)
        optimizer = Adam(parameters: first.parameters + second.parameters, learningRate: learningRate, maxGradientNorm: 4)
    }

    /// The message's features: hashed character n-gram counts, L2-normalised.
    public static func features(_ text: String) -> [Float] {
        var dense = [Float](repeating: 0, count: buckets)
        for (index, value) in sparseFeatures(text) { dense[Int(index)] = value }
        return dense
    }

    /// The same features as (bucket, value) pairs: a message has ~100 n-grams, not 4,096.
    static func sparseFeatures(_ text: String) -> [(index: Int32, value: Float)] {
        var counts: [Int32: Float] = [:]
        let bytes = Array(text.lowercased().utf8)
        for n in 1...3 where bytes.count >= n {
            for start in 0...(bytes.count - n) {
                var hash: UInt32 = 2_166_136_261 ^ UInt32(n)  // FNV-1a, seeded by the n-gram's length
                for byte in bytes[start..<(start + n)] { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
                counts[Int32(hash % UInt32(buckets)), default: 0] += 1
            }
        }
        let norm = counts.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value / norm) }
    }

    /// Sparse features per message text, computed once: the label set is re-read every training round.
    private var featureCache: [String: [(index: Int32, value: Float)]] = [:]

    private func dense(_ texts: [String]) -> [Float] {
        var batch = [Float](repeating: 0, count: texts.count * Self.buckets)
        for (row, text) in texts.enumerated() {
            let sparse = featureCache[text] ?? Self.sparseFeatures(text)
            featureCache[text] = sparse
            for (index, value) in sparse { batch[row * Self.buckets + Int(index)] = value }
        }
        return batch
    }

    private func logits(_ features: [Float], batch: Int) -> [Float] {
        second.forward(relu.forward(first.forward(features, batch: batch), batch: batch), batch: batch)
    }

    /// P(progress) for each message.
    public func probabilities(_ texts: [String]) -> [Double] {
        guard !texts.isEmpty else { return [] }
        return logits(dense(texts), batch: texts.count).map { 1 / (1 + Foundation.exp(-Double($0))) }
    }

    /// Mean binary cross-entropy with logits and its gradient: softplus(z) − y·z, dz = σ(z) − y.
    public static func binaryCrossEntropy(logits: [Float], labels: [Float]) -> (loss: Double, gradient: [Float]) {
        let n = Double(logits.count)
        var loss = 0.0
        var gradient = [Float](repeating: 0, count: logits.count)
        for i in logits.indices {
            let z = Double(logits[i]), y = Double(labels[i])
            loss += max(z, 0) + Foundation.log(1 + Foundation.exp(-abs(z))) - y * z
            gradient[i] = Float((1 / (1 + Foundation.exp(-z)) - y) / n)
        }
        return (loss / n, gradient)
    }

    /// `steps` Adam steps on mini-batches of `examples` (text, label 0/1) drawn with `rng`; returns the last loss.
    @discardableResult
    public func train(on examples: [(text: String, label: Float)], steps: Int, batchSize: Int = 32, rng: inout SeededGenerator) -> Double {
        guard !examples.isEmpty, steps > 0 else { return .nan }
        var loss = Double.nan
        for _ in 0..<steps {
            let picks = (0..<min(batchSize, examples.count)).map { _ in rng.below(examples.count) }
            let z = logits(dense(picks.map { examples[$0].text }), batch: picks.count)
            let (l, dz) = Self.binaryCrossEntropy(logits: z, labels: picks.map { examples[$0].label })
            loss = l
            _ = first.backward(relu.backward(second.backward(dz)))
            optimizer.step()
        }
        version += 1
        return loss
    }
}
