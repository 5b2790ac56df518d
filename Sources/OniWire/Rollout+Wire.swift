import Foundation
import OniCore

extension Rollout {
    /// The protobuf form of this rollout.
    public var wire: Oni_V1_Rollout {
        var r = Oni_V1_Rollout()
        r.workerID = workerID
        r.sequence = sequence
        r.policyVersion = policyVersion
        r.numSteps = UInt32(numSteps)
        r.numEnvs = UInt32(numEnvs)
        r.envName = envName
        r.observations = observations.keys.sorted().map { name in
            var named = Oni_V1_NamedTensor()
            named.name = name
            named.tensor = observations[name]!.wire
            return named
        }
        let steps = [numSteps, numEnvs]
        r.actions = Tensor(actions, shape: steps).wire
        r.behaviourLogProbs = Tensor(behaviourLogProbs, shape: steps).wire
        r.rewards = Tensor(rewards, shape: steps).wire
        r.dones = Tensor(dones, shape: steps).wire
        r.messages = messages
        r.messageIndex = Tensor(messageIndex, shape: steps).wire
        r.messageEpisodeCount = Tensor(messageEpisodeCount, shape: steps).wire
        r.episodes = episodes.map { e in
            var w = Oni_V1_EpisodeSummary()
            w.envIndex = UInt32(e.envIndex)
            w.episodeID = e.episodeID
            w.return = e.episodeReturn
            w.length = UInt32(e.length)
            w.success = e.success
            w.endStep = UInt32(e.endStep)
            w.seed = e.seed
            w.truncated = e.truncated
            return w
        }
        r.workerEnvSteps = workerEnvSteps
        r.replay = replay
        r.runID = runID
        r.workerStartedUnixMs = workerStartedUnixMilliseconds
        r.envFailures = UInt32(clamping: envFailures)
        if !coreState.isEmpty { r.coreState = Tensor(coreState, shape: [numEnvs, coreState.count / numEnvs]).wire }
        if !behaviourValues.isEmpty { r.behaviourValues = Tensor(behaviourValues, shape: steps).wire }
        return r
    }

    /// Converts from protobuf and validates sizes and indices: a rollout that
    /// decodes but lies about its contents is refused here.
    public init(wire r: Oni_V1_Rollout) throws(WireConversionError) {
        func tensor(_ t: Oni_V1_Tensor, _ name: String, _ type: ElementType) throws(WireConversionError) -> Tensor {
            let value = try Tensor(wire: t)
            guard value.elementType == type else {
                throw WireConversionError("rollout \(name) is \(value.elementType), expected \(type)")
            }
            guard value.shape == [Int(r.numSteps), Int(r.numEnvs)] else {
                throw WireConversionError("rollout \(name) has shape \(value.shape), expected [\(r.numSteps), \(r.numEnvs)]")
            }
            return value
        }
        var observations: [String: Tensor] = [:]
        for named in r.observations { observations[named.name] = try Tensor(wire: named.tensor) }
        self.init(
            workerID: r.workerID,
            sequence: r.sequence,
            policyVersion: r.policyVersion,
            numSteps: Int(r.numSteps),
            numEnvs: Int(r.numEnvs),
            envName: r.envName,
            observations: observations,
            actions: try tensor(r.actions, "actions", .int32).int32s,
            behaviourLogProbs: try tensor(r.behaviourLogProbs, "behaviour_log_probs", .float32).floats,
            rewards: try tensor(r.rewards, "rewards", .float32).floats,
            dones: try tensor(r.dones, "dones", .uint8).uint8s,
            messages: r.messages,
            messageIndex: try tensor(r.messageIndex, "message_index", .int32).int32s,
            messageEpisodeCount: try tensor(r.messageEpisodeCount, "message_episode_count", .int32).int32s,
            episodes: r.episodes.map {
                EpisodeSummary(
                    envIndex: Int($0.envIndex), episodeID: $0.episodeID, episodeReturn: $0.return, length: Int($0.length),
                    success: $0.success, endStep: Int($0.endStep), seed: $0.seed, truncated: $0.truncated)
            },
            workerEnvSteps: r.workerEnvSteps,
            replay: r.replay,
            coreState: try Self.coreState(r),
            behaviourValues: r.hasBehaviourValues ? try tensor(r.behaviourValues, "behaviour_values", .float32).floats : []
        )
        runID = r.runID
        workerStartedUnixMilliseconds = r.workerStartedUnixMs
        envFailures = Int(r.envFailures)
        if let problem = validate() { throw WireConversionError("rollout from \(r.workerID): \(problem)") }
    }

    private static func coreState(_ r: Oni_V1_Rollout) throws(WireConversionError) -> [Float] {
        guard r.hasCoreState else { return [] }
        let state = try Tensor(wire: r.coreState)
        guard state.elementType == .float32, state.shape.count == 2, state.shape[0] == Int(r.numEnvs) else {
            throw WireConversionError("rollout core_state must be float32 [\(r.numEnvs), S], got \(state.elementType) \(state.shape)")
        }
        return state.floats
    }
}
