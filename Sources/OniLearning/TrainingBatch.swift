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
    public var actions: [Int32]
    public var behaviourLogProbs: [Float]
    public var rewards: [Float]
    public var dones: [UInt8]
    /// Params version that acted (-1 = uniform random).
    public var policyVersion: Int64

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
