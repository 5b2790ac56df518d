import Foundation
import OniCore
import OniNeural

/// Observations of `rows` environment steps, laid out row after row as the
/// network reads them. Fields the architecture lacks may be empty.
public struct ObservationRows {
    /// uint8 [rows, height, width].
    public var chars: UnsafeBufferPointer<UInt8>
    /// int32 [rows, statusSize].
    public var status: UnsafeBufferPointer<Int32>
    /// uint8 [rows, messageLength], zero-padded bytes.
    public var message: UnsafeBufferPointer<UInt8>

    public init(chars: UnsafeBufferPointer<UInt8>, status: UnsafeBufferPointer<Int32>?, message: UnsafeBufferPointer<UInt8>?) {
        self.chars = chars
        self.status = status ?? UnsafeBufferPointer(start: nil, count: 0)
        self.message = message ?? UnsafeBufferPointer(start: nil, count: 0)
    }
}

/// The actor-critic network. The character map is embedded and passed through
/// two 3×3 convolutions; the message bytes are embedded, passed through two
/// 1-D convolutions and max-pooled; both join the (symlog-scaled) status
/// vector in a hidden layer, which feeds the recurrent core (a GRU) and then a
/// policy head (logits) and a value head.
///
/// One definition serves both the workers (Float32 inference, one step at a
/// time) and the learner (training on whole rollouts, back-propagating
/// through time); Float64 instances exist for gradient checks.
public final class PolicyNetwork<S: Scalar> {
    public let architecture: PolicyArchitecture
    /// Characters beyond this index share the last embedding row.
    public static var vocabulary: Int { 128 }

    // Concrete layer types, called directly: calls through `any Layer` would
    // run unspecialised generic code, ~50× slower.
    private let embedding: Embedding<S>
    // The convolutions apply their ELU themselves (fused).
    private let conv0: Conv2d<S>
    private let conv1: Conv2d<S>
    private let message: MessageEncoder<S>?
    /// Over two blocks, the convolutions' features and the extras (status, message features),
    /// so the features are never copied into a joined row.
    private let trunk: BlockLinear<S>
    private let trunkELU: Activation<S>
    private let core: GRU<S>?
    private let policyHead: Linear<S>
    private let valueHead: Linear<S>
    private var rows = 0
    /// Operations the last forward did (the architecture's count, with the message encoder's
    /// share for the positions it computed).
    public private(set) var forwardFLOPs = 0.0
    private var resets: [UInt8] = []
    /// Kept between passes, so a steady-state update allocates none of them: the map's embedding
    /// indices, the extras (symlog status, then message features, per row), and gradients on
    /// the way back.
    private var indices: [Int32] = []
    private var extras: [S] = []
    private var dHidden: [S] = []
    private var dMessage: [S] = []

    public init(architecture a: PolicyArchitecture, seed: UInt64) {
        architecture = a
        var rng = SeededGenerator(seed: seed)
        let positions = a.viewHeight * a.viewWidth
        embedding = Embedding(
            name: "embed", vocabulary: Self.vocabulary, dimension: a.embedding, count: positions, rng: &rng)
        conv0 = Conv2d(
            name: "conv0", channels: a.embedding, height: a.viewHeight, width: a.viewWidth, filters: a.filters, kernel: 3, padding: 1,
            activation: .elu, rng: &rng)
        conv1 = Conv2d(
            name: "conv1", channels: a.filters, height: a.viewHeight, width: a.viewWidth, filters: a.filters, kernel: 3, padding: 1,
            activation: .elu, rng: &rng)
        // Computed only as far as the batch's messages reach (`MessageEncoder`: the same result).
        message =
            a.messageLength > 0
            ? MessageEncoder(name: "message", length: a.messageLength, embedding: a.messageEmbedding, filters: a.messageFilters, rng: &rng)
            : nil
        trunk = BlockLinear(
            name: "trunk", widths: [a.filters * positions, Self.extrasSize(a)], constant: a.messageLength > 0 ? [] : [1],
            outputSize: a.hidden, rng: &rng)
        trunkELU = Activation(.elu, size: a.hidden)
        core = a.core == .gru ? GRU(name: "core", inputSize: a.hidden, hiddenSize: a.hidden, rng: &rng) : nil
        policyHead = Linear(name: "policy", inputSize: a.hidden, outputSize: a.actions, gain: 0.01, rng: &rng)
        valueHead = Linear(name: "value", inputSize: a.hidden, outputSize: 1, gain: 1, rng: &rng)
    }

    /// A row's status values and message features: the trunk's second block.
    private static func extrasSize(_ a: PolicyArchitecture) -> Int {
        a.statusSize + (a.messageLength > 0 ? a.messageFilters : 0)
    }

    /// Every trainable parameter, in a fixed order.
    public var parameters: [Parameter<S>] {
        embedding.parameters + conv0.parameters + conv1.parameters + (message?.parameters ?? []) + trunk.parameters
            + (core?.parameters ?? []) + policyHead.parameters + valueHead.parameters
    }

    /// sign(x)·log(1 + |x|): keeps counters like gold or turn in a trainable range.
    static func symlog(_ x: Int32) -> S {
        let v = Double(x)
        return S((v < 0 ? -1 : 1) * (1 + abs(v)).logarithm)
    }

    /// Logits [rows, actions] and values [rows] for `steps` × `envs` observation
    /// rows (step-major), with the recurrent state after the last step [envs, stateSize].
    /// `state` is the core's state before the first step ([envs, stateSize], empty
    /// without a core); `resets[t·envs + b]` ≠ 0 starts env b's state afresh at step t.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ observations: ObservationRows, steps: Int, envs: Int, state: [S], resets: [UInt8]) -> (logits: [S], values: [S], state: [S]) {
        let a = architecture
        let rows = steps * envs
        precondition(
            observations.chars.count >= rows * a.height * a.width && observations.status.count >= rows * a.statusSize
                && observations.message.count >= rows * a.messageLength,
            "observation buffers too small")
        precondition(state.count == envs * a.stateSize && resets.count == rows, "recurrent state or resets of the wrong size")
        self.rows = rows
        self.resets = resets
        defer {
            forwardFLOPs = Double(rows) * Double(a.forwardFLOPsPerRow - a.messageFLOPs(positions: a.messageLength))
                + Double(a.messageFLOPs(positions: message?.computedPositions ?? 0))
        }
        let positions = a.viewHeight * a.viewWidth
        if a.crop > 0 {
            Self.egocentric(observations, rows: rows, a, into: &indices)
        } else {
            Self.fill(&indices, count: rows * positions) { observations.chars[$0] }
        }
        let embedded = embedding.forward(indices, batch: rows)
        let features = conv1.forward(conv0.forward(embedded, batch: rows), batch: rows)
        let messageFeatures = message?.forward(observations.message, rows: rows) ?? []
        let messageSize = messageFeatures.count / max(rows, 1)
        let extrasSize = Self.extrasSize(a), statusSize = a.statusSize
        extras.reuse(count: rows * extrasSize)
        extras.withUnsafeMutableBufferPointer { extras in
            messageFeatures.withUnsafeBufferPointer { messageFeatures in
                for r in 0..<rows {
                    let base = extras.baseAddress! + r * extrasSize
                    for i in 0..<statusSize { base[i] = Self.symlog(observations.status[r * statusSize + i]) }
                    if messageSize > 0 { (base + statusSize).update(from: messageFeatures.baseAddress! + r * messageSize, count: messageSize) }
                }
            }
        }
        var hidden = trunkELU.forward(trunk.forward([features, extras], batch: rows), batch: rows)
        var last: [S] = []
        if let core {
            hidden = core.forward(hidden, initial: state, resets: resets, steps: steps, batch: envs)
            last = Array(hidden[((steps - 1) * envs * a.hidden)...])
        }
        return (policyHead.forward(hidden, batch: rows), valueHead.forward(hidden, batch: rows), last)
    }

    /// `indices` made `count` long, element i from `value(i)`.
    @inline(__always)
    static func fill(_ indices: inout [Int32], count: Int, _ value: (Int) -> UInt8) {
        if indices.count != count { indices = [Int32](repeating: 0, count: count) }
        indices.withUnsafeMutableBufferPointer { out in
            for i in 0..<count { out[i] = Int32(value(i)) }
        }
    }

    /// The crop × crop window of each row's map centred on the agent (status[cropCentre]); cells off the map are blank.
    public static func egocentric(_ observations: ObservationRows, rows: Int, _ a: PolicyArchitecture) -> [Int32] {
        var indices: [Int32] = []
        egocentric(observations, rows: rows, a, into: &indices)
        return indices
    }

    /// `egocentric` into a kept buffer.
    static func egocentric(_ observations: ObservationRows, rows: Int, _ a: PolicyArchitecture, into indices: inout [Int32]) {
        let crop = a.crop, half = a.crop / 2, mapSize = a.height * a.width
        if indices.count != rows * crop * crop { indices = [Int32](repeating: 32, count: rows * crop * crop) }
        indices.withUnsafeMutableBufferPointer { indices in
        indices.update(repeating: 32)
        for r in 0..<rows {
            let x = Int(observations.status[r * a.statusSize + a.cropCentre[0]])
            let y = Int(observations.status[r * a.statusSize + a.cropCentre[1]])
            for dy in 0..<crop {
                let my = y - half + dy
                guard my >= 0 && my < a.height else { continue }
                for dx in 0..<crop {
                    let mx = x - half + dx
                    guard mx >= 0 && mx < a.width else { continue }
                    indices[(r * crop + dy) * crop + dx] = Int32(observations.chars[r * mapSize + my * a.width + mx])
                }
            }
        }
        }
    }

    /// Back-propagates dLoss/dLogits and dLoss/dValues of the last forward into the parameters' gradients.
    /// (Not `@_specialize(exported:)` like `forward`: the exported Float specialisation went
    /// missing at link time when called from the trainer's parallel closure; the trainer's
    /// module specialises it itself.)
    public func backward(logitsGradient: [S], valuesGradient: [S]) {
        let a = architecture, rows = self.rows
        let fromPolicy = policyHead.backward(logitsGradient)
        let fromValue = valueHead.backward(valuesGradient)
        dHidden.reuse(count: fromPolicy.count)
        dHidden.withUnsafeMutableBufferPointer { sum in
            fromPolicy.withUnsafeBufferPointer { p in
                fromValue.withUnsafeBufferPointer { v in
                    for i in 0..<sum.count { sum[i] = p[i] + v[i] }
                }
            }
        }
        let dCore = core.map { $0.backward(dHidden, resets: resets) } ?? dHidden
        let dBlocks = trunk.backward(trunkELU.backward(dCore))
        if let message {
            Self.columns(of: dBlocks[1], rows: rows, width: Self.extrasSize(a), from: a.statusSize, count: a.messageFilters, into: &dMessage)
            message.backward(dMessage)
        }
        let dEmbedded = conv0.backward(conv1.backward(dBlocks[0]))
        embedding.backward(dEmbedded)
    }

    /// Columns from..<from+count of each of `rows` rows of `width` into `out` [rows, count].
    static func columns(of matrix: [S], rows: Int, width: Int, from: Int, count: Int, into out: inout [S]) {
        out.reuse(count: rows * count)
        out.withUnsafeMutableBufferPointer { out in
            matrix.withUnsafeBufferPointer { m in
                for r in 0..<rows { (out.baseAddress! + r * count).update(from: m.baseAddress! + r * width + from, count: count) }
            }
        }
    }

    /// The weights as named float32 tensors (for Params and checkpoints).
    public func exportWeights() -> [(name: String, shape: [Int], values: [Float])] {
        parameters.map { ($0.name, $0.shape, S.floats($0.value)) }
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
        for p in parameters { p.value = S.converting(weights[p.name]!.values) }
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

extension PolicyNetwork {
    /// Takes `other`'s weights (a network of the same architecture).
    public func copyWeights(from other: PolicyNetwork) {
        precondition(other.architecture == architecture, "copying weights between different networks")
        // Into the replica's own buffers: sharing them would make the next Adam step copy every weight.
        for (mine, theirs) in zip(parameters, other.parameters) {
            mine.value.withUnsafeMutableBufferPointer { dst in
                theirs.value.withUnsafeBufferPointer { src in _ = dst.update(fromContentsOf: src) }
            }
        }
    }
}
