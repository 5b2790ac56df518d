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
    /// Replayed from a store (off-policy by design: no policy-lag bound).
    public var replay: Bool

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
        replay = r.replay
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

extension TrainingBatch {
    /// Several rollouts of the same length side by side: B = ΣBᵢ, environment columns in the
    /// order given, every time-major array interleaved row by row. One batch is returned as it is.
    public static func concatenating(_ parts: [TrainingBatch]) -> TrainingBatch {
        precondition(!parts.isEmpty, "concatenating no batches")
        guard parts.count > 1 else { return parts[0] }
        let steps = parts[0].steps
        precondition(parts.allSatisfy { $0.steps == steps }, "concatenated rollouts must have the same number of steps")
        var out = parts[0]
        out.envs = parts.reduce(0) { $0 + $1.envs }
        /// Interleaves `rows` rows of each part's array, each part contributing envs·width values a row.
        func interleave<E>(_ field: KeyPath<TrainingBatch, [E]>, rows: Int) -> [E] {
            var result: [E] = []
            result.reserveCapacity(parts.reduce(0) { $0 + $1[keyPath: field].count })
            for row in 0..<rows {
                for part in parts {
                    let values = part[keyPath: field]
                    let width = values.count / rows
                    result.append(contentsOf: values[(row * width)..<((row + 1) * width)])
                }
            }
            return result
        }
        out.chars = interleave(\.chars, rows: steps + 1)
        out.status = interleave(\.status, rows: steps + 1)
        out.message = interleave(\.message, rows: steps + 1)
        out.actions = interleave(\.actions, rows: steps)
        out.behaviourLogProbs = interleave(\.behaviourLogProbs, rows: steps)
        out.rewards = interleave(\.rewards, rows: steps)
        out.dones = interleave(\.dones, rows: steps)
        // Behaviour values are all or nothing: one rollout without them drops them for the batch.
        out.behaviourValues = parts.allSatisfy { !$0.behaviourValues.isEmpty } ? interleave(\.behaviourValues, rows: steps) : []
        out.coreState = parts.flatMap(\.coreState)  // [B, stateSize]: env-major already
        out.policyVersion = parts.map(\.policyVersion).min()!
        out.replay = parts.contains { $0.replay }
        return out
    }

    /// Environment steps the batch trains on (T·B).
    public var samples: Int { steps * envs }
}

extension TrainingBatch {
    /// The environment columns `range` of this batch (all T+1 rows of each).
    public func columns(_ range: Range<Int>) -> TrainingBatch {
        precondition(range.lowerBound >= 0 && range.upperBound <= envs && !range.isEmpty, "columns \(range) outside 0..<\(envs)")
        guard range.count < envs else { return self }
        var out = self
        out.envs = range.count
        func slice<E>(_ values: [E], rows: Int) -> [E] {
            guard !values.isEmpty else { return [] }
            let width = values.count / (rows * envs)
            var result: [E] = []
            result.reserveCapacity(rows * range.count * width)
            for row in 0..<rows {
                let start = (row * envs + range.lowerBound) * width
                result.append(contentsOf: values[start..<(start + range.count * width)])
            }
            return result
        }
        out.chars = slice(chars, rows: steps + 1)
        out.status = slice(status, rows: steps + 1)
        out.message = slice(message, rows: steps + 1)
        out.actions = slice(actions, rows: steps)
        out.behaviourLogProbs = slice(behaviourLogProbs, rows: steps)
        out.rewards = slice(rewards, rows: steps)
        out.dones = slice(dones, rows: steps)
        out.behaviourValues = slice(behaviourValues, rows: steps)
        out.coreState = slice(coreState, rows: 1)
        return out
    }
}
