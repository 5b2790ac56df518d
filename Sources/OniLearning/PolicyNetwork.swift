import Foundation
import OniCore
import OniNeural

/// The actor-critic network: the character map is embedded, passed through
/// two 3×3 convolutions, joined with the (symlog-scaled) status vector, and a
/// hidden layer feeds a policy head (logits) and a value head.
///
/// One definition serves both the workers (Float32 inference) and the learner
/// (training); Float64 instances exist for gradient checks.
public final class PolicyNetwork<S: Scalar> {
    public let architecture: PolicyArchitecture
    /// Characters beyond this index share the last embedding row.
    public static var vocabulary: Int { 128 }

    // Concrete layer types, called directly: calls through `any Layer` would
    // run unspecialised generic code, ~50× slower.
    private let embedding: Embedding<S>
    private let channelsFirst: ChannelsFirst<S>
    private let conv0: Conv2d<S>
    private let elu0: Activation<S>
    private let conv1: Conv2d<S>
    private let elu1: Activation<S>
    private let trunk: Linear<S>
    private let trunkELU: Activation<S>
    private let policyHead: Linear<S>
    private let valueHead: Linear<S>
    private var batch = 0

    public init(architecture a: PolicyArchitecture, seed: UInt64) {
        architecture = a
        var rng = SeededGenerator(seed: seed)
        let positions = a.height * a.width
        embedding = Embedding(name: "embed", vocabulary: Self.vocabulary, dimension: a.embedding, count: positions, rng: &rng)
        channelsFirst = ChannelsFirst(positions: positions, channels: a.embedding)
        conv0 = Conv2d(name: "conv0", channels: a.embedding, height: a.height, width: a.width, filters: a.filters, kernel: 3, padding: 1, rng: &rng)
        elu0 = Activation(.elu, size: a.filters * positions)
        conv1 = Conv2d(name: "conv1", channels: a.filters, height: a.height, width: a.width, filters: a.filters, kernel: 3, padding: 1, rng: &rng)
        elu1 = Activation(.elu, size: a.filters * positions)
        trunk = Linear(name: "trunk", inputSize: a.filters * positions + a.statusSize, outputSize: a.hidden, rng: &rng)
        trunkELU = Activation(.elu, size: a.hidden)
        policyHead = Linear(name: "policy", inputSize: a.hidden, outputSize: a.actions, gain: 0.01, rng: &rng)
        valueHead = Linear(name: "value", inputSize: a.hidden, outputSize: 1, gain: 1, rng: &rng)
    }

    /// Every trainable parameter, in a fixed order.
    public var parameters: [Parameter<S>] {
        embedding.parameters + conv0.parameters + conv1.parameters + trunk.parameters + policyHead.parameters + valueHead.parameters
    }

    /// sign(x)·log(1 + |x|): keeps counters like gold or turn in a trainable range.
    static func symlog(_ x: Int32) -> S {
        let v = Double(x)
        return S((v < 0 ? -1 : 1) * (1 + abs(v)).logarithm)
    }

    /// Logits [batch, actions] and values [batch] for `batch` observations:
    /// `chars` uint8 [batch, height, width], `status` int32 [batch, statusSize].
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(chars: UnsafeBufferPointer<UInt8>, status: UnsafeBufferPointer<Int32>, batch: Int) -> (logits: [S], values: [S]) {
        let a = architecture
        let positions = a.height * a.width
        precondition(chars.count >= batch * positions && status.count >= batch * a.statusSize, "observation buffers too small")
        self.batch = batch
        let indices = (0..<(batch * positions)).map { Int32(chars[$0]) }
        let embedded = channelsFirst.forward(embedding.forward(indices, batch: batch), batch: batch)
        let features = elu1.forward(conv1.forward(elu0.forward(conv0.forward(embedded, batch: batch), batch: batch), batch: batch), batch: batch)
        let convSize = a.filters * positions
        let joinedSize = convSize + a.statusSize
        var joined = [S](repeating: 0, count: batch * joinedSize)
        for b in 0..<batch {
            for i in 0..<convSize { joined[b * joinedSize + i] = features[b * convSize + i] }
            for i in 0..<a.statusSize { joined[b * joinedSize + convSize + i] = Self.symlog(status[b * a.statusSize + i]) }
        }
        let hidden = trunkELU.forward(trunk.forward(joined, batch: batch), batch: batch)
        return (policyHead.forward(hidden, batch: batch), valueHead.forward(hidden, batch: batch))
    }

    /// Back-propagates dLoss/dLogits and dLoss/dValues of the last forward into the parameters' gradients.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(logitsGradient: [S], valuesGradient: [S]) {
        let a = architecture
        var dHidden = policyHead.backward(logitsGradient)
        let dValueHidden = valueHead.backward(valuesGradient)
        for i in dHidden.indices { dHidden[i] += dValueHidden[i] }
        let dJoined = trunk.backward(trunkELU.backward(dHidden))
        let convSize = a.filters * a.height * a.width
        let joinedSize = convSize + a.statusSize
        var dFeatures = [S](repeating: 0, count: batch * convSize)
        for b in 0..<batch {
            for i in 0..<convSize { dFeatures[b * convSize + i] = dJoined[b * joinedSize + i] }
        }
        let dEmbedded = conv0.backward(elu0.backward(conv1.backward(elu1.backward(dFeatures))))
        embedding.backward(channelsFirst.backward(dEmbedded))
    }

    /// The weights as named float32 tensors (for Params and checkpoints).
    public func exportWeights() -> [(name: String, shape: [Int], values: [Float])] {
        parameters.map { ($0.name, $0.shape, $0.value.map { Float($0) }) }
    }

    /// Loads weights exported by a network of the same architecture: all are
    /// checked before any is set, so a bad set leaves the network as it was.
    public func importWeights(_ weights: [String: (shape: [Int], values: [Float])]) throws(PolicyError) {
        for p in parameters {
            guard let w = weights[p.name] else { throw .missingWeight(p.name) }
            guard w.shape == p.shape, w.values.count == p.count else {
                throw .shapeMismatch(name: p.name, expected: p.shape, found: w.shape)
            }
            guard w.values.allSatisfy(\.isFinite) else { throw .nonFinite(p.name) }
        }
        for p in parameters { p.value = weights[p.name]!.values.map { S($0) } }
    }
}

/// Errors loading policy weights.
public enum PolicyError: Error, Equatable, CustomStringConvertible {
    /// Weights for another network.
    case architectureMismatch(expected: String, found: String)
    /// A parameter is absent.
    case missingWeight(String)
    /// A parameter has another shape.
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    /// A parameter holds NaN or infinity.
    case nonFinite(String)

    public var description: String {
        switch self {
        case let .architectureMismatch(expected, found): "weights for '\(found)', this network is '\(expected)'"
        case let .missingWeight(name): "weights lack parameter \(name)"
        case let .shapeMismatch(name, expected, found): "parameter \(name) has shape \(found), expected \(expected)"
        case let .nonFinite(name): "parameter \(name) holds NaN or infinity"
        }
    }
}

extension Double {
    fileprivate var logarithm: Double { Foundation.log(self) }
}
