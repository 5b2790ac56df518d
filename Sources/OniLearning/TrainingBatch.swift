import OniCore

/// The learner's view of one rollout: what an APPO update needs, checked
/// against the network's architecture.
public struct TrainingBatch: Sendable {
    public var steps: Int
    public var envs: Int
    /// uint8 [T+1, B, height, width].
    public var chars: [UInt8]
    /// int32 [T+1, B, statusSize].
    public var status: [Int32]
    /// uint8 [T+1, B, messageLength].
    public var message: [UInt8]
    /// The acting policy's recurrent state before step 0, [B, stateSize] (zeros if the rollout had none).
    public var coreState: [Float]
    /// V(s_t) of the acting policy, [T, B]; empty if unknown.
    public var behaviourValues: [Float]
    public var actions: [Int32]
    public var behaviourLogProbs: [Float]
    public var rewards: [Float]
    public var dones: [UInt8]
    /// Params version that acted (-1 = uniform random).
    public var policyVersion: Int64

    /// Resets of the recurrent state per observation row [T+1, B]: row t+1 starts afresh where step t ended an episode.
    public var resets: [UInt8] {
        [UInt8](repeating: 0, count: envs) + dones
    }

    /// Reads a rollout; throws if its observations do not fit `architecture`.
    public init(rollout r: Rollout, architecture a: PolicyArchitecture) throws(TrainingError) {
        guard let chars = r.observations["chars"], chars.elementType == .uint8,
              chars.shape == [r.numSteps + 1, r.numEnvs, a.height, a.width]
        else { throw .observationMismatch("chars must be uint8 [T+1, B, \(a.height), \(a.width)]") }
        var status: [Int32] = []
        if a.statusSize > 0 {
            guard let s = r.observations["status"], s.elementType == .int32, s.shape == [r.numSteps + 1, r.numEnvs, a.statusSize] else {
                throw .observationMismatch("status must be int32 [T+1, B, \(a.statusSize)]")
            }
            status = s.int32s
        }
        var message: [UInt8] = []
        if a.messageLength > 0 {
            guard let m = r.observations["message"], m.elementType == .uint8, m.shape == [r.numSteps + 1, r.numEnvs, a.messageLength] else {
                throw .observationMismatch("message must be uint8 [T+1, B, \(a.messageLength)]")
            }
            message = m.uint8s
        }
        var coreState = r.coreState
        if coreState.isEmpty {
            coreState = [Float](repeating: 0, count: r.numEnvs * a.stateSize)  // acted at random: a fresh state
        } else {
            guard coreState.count == r.numEnvs * a.stateSize else {
                throw .observationMismatch("core state has \(coreState.count) values, the network needs B × \(a.stateSize)")
            }
            guard coreState.allSatisfy(\.isFinite) else { throw .observationMismatch("non-finite core state") }
        }
        guard r.behaviourValues.isEmpty || r.behaviourValues.count == r.numSteps * r.numEnvs else {
            throw .observationMismatch("behaviour values must be T × B")
        }
        guard r.behaviourValues.allSatisfy(\.isFinite) else { throw .observationMismatch("non-finite behaviour value") }
        guard r.actions.allSatisfy({ $0 >= 0 && Int($0) < a.actions }) else {
            throw .observationMismatch("actions outside 0..<\(a.actions)")
        }
        // One bad number would turn every weight into NaN: refuse it here.
        guard r.rewards.allSatisfy(\.isFinite) else { throw .observationMismatch("non-finite reward") }
        guard r.behaviourLogProbs.allSatisfy({ $0.isFinite && $0 <= 0.001 && $0 >= -50 }) else {
            throw .observationMismatch("behaviour log-probabilities must be finite and in [-50, 0]")
        }
        steps = r.numSteps
        envs = r.numEnvs
        self.chars = chars.uint8s
        self.status = status
        self.message = message
        self.coreState = coreState
        behaviourValues = r.behaviourValues
        actions = r.actions
        behaviourLogProbs = r.behaviourLogProbs
        rewards = r.rewards
        dones = r.dones
        policyVersion = r.policyVersion
    }
}

/// Errors turning experience into training data.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// The rollout's observations or actions do not fit the network.
    case observationMismatch(String)

    public var description: String {
        switch self {
        case let .observationMismatch(text): "rollout does not fit the policy network: \(text)"
        }
    }
}
