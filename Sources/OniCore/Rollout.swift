/// An episode that ended inside a rollout.
public struct EpisodeSummary: Sendable, Hashable {
    /// Which of the worker's environments.
    public var envIndex: Int
    /// Worker-local episode counter.
    public var episodeID: UInt64
    /// Undiscounted sum of extrinsic rewards.
    public var episodeReturn: Double
    /// Steps in the episode.
    public var length: Int
    /// The task's goal was reached.
    public var success: Bool
    /// Rollout step index `t` at which it ended.
    public var endStep: Int
    /// The seed its environment was reset with.
    public var seed: UInt64
    /// Ended because its environment failed (and was made anew), not by the game: return and
    /// length are partial, and it did not succeed.
    public var truncated: Bool

    public init(
        envIndex: Int, episodeID: UInt64, episodeReturn: Double, length: Int, success: Bool, endStep: Int, seed: UInt64,
        truncated: Bool = false
    ) {
        self.envIndex = envIndex
        self.episodeID = episodeID
        self.episodeReturn = episodeReturn
        self.length = length
        self.success = success
        self.endStep = endStep
        self.seed = seed
        self.truncated = truncated
    }
}

/// T steps of B environments from one worker. Per-step arrays are row-major
/// `[T, B]`; observations are `[T + 1, B, ...]`, the last row being the state
/// after the final step.
public struct Rollout: Sendable, Hashable {
    public var workerID: String
    public var sequence: UInt64
    /// Params version that chose the actions; -1 for the uniform random policy.
    public var policyVersion: Int64
    public var numSteps: Int
    public var numEnvs: Int
    public var envName: String
    /// Observation tensors by field name.
    public var observations: [String: Tensor]
    public var actions: [Int32]
    public var behaviourLogProbs: [Float]
    public var rewards: [Float]
    public var dones: [UInt8]
    /// The distinct messages of this rollout.
    public var messages: [String]
    /// Index into `messages` per step; -1 for no message.
    public var messageIndex: [Int32]
    /// Occurrences of the step's message in its episode so far (this one included); 0 for none.
    public var messageEpisodeCount: [Int32]
    public var episodes: [EpisodeSummary]
    /// The worker's environment steps so far, this rollout included.
    public var workerEnvSteps: UInt64
    /// Sent by `oni replay` rather than a live worker.
    public var replay: Bool
    /// The acting policy's recurrent state before step 0, [B, S]; empty for feed-forward policies.
    public var coreState: [Float]
    /// V(s_t) of the acting policy, [T, B]; empty while acting at random.
    public var behaviourValues: [Float]
    /// The run the worker belongs to; empty when it does not say (an older worker, or one started without `--run-id`).
    public var runID = ""
    /// When the sending worker process started (ms since 1970): with `workerID`, which incarnation
    /// of the worker sent it; a restarted worker counts its `sequence` from 0 again. 0 = not said.
    public var workerStartedUnixMilliseconds: UInt64 = 0
    /// Environment instances of the worker that failed during this rollout and were made anew.
    public var envFailures = 0

    /// The sending worker's incarnation, as one key: `workerID` and when it started.
    public var incarnation: String { workerStartedUnixMilliseconds == 0 ? workerID : "\(workerID)@\(workerStartedUnixMilliseconds)" }

    public init(
        workerID: String, sequence: UInt64, policyVersion: Int64, numSteps: Int, numEnvs: Int, envName: String,
        observations: [String: Tensor], actions: [Int32], behaviourLogProbs: [Float], rewards: [Float],
        dones: [UInt8], messages: [String], messageIndex: [Int32], messageEpisodeCount: [Int32],
        episodes: [EpisodeSummary], workerEnvSteps: UInt64, replay: Bool = false, coreState: [Float] = [],
        behaviourValues: [Float] = []
    ) {
        self.workerID = workerID
        self.sequence = sequence
        self.policyVersion = policyVersion
        self.numSteps = numSteps
        self.numEnvs = numEnvs
        self.envName = envName
        self.observations = observations
        self.actions = actions
        self.behaviourLogProbs = behaviourLogProbs
        self.rewards = rewards
        self.dones = dones
        self.messages = messages
        self.messageIndex = messageIndex
        self.messageEpisodeCount = messageEpisodeCount
        self.episodes = episodes
        self.workerEnvSteps = workerEnvSteps
        self.replay = replay
        self.coreState = coreState
        self.behaviourValues = behaviourValues
    }

    /// Environment steps in this rollout (T × B).
    public var stepCount: Int { numSteps * numEnvs }

    /// Checks that every array has the size its header promises and every
    /// message index points into the table. Returns the first problem found.
    public func validate() -> String? {
        let n = stepCount
        guard numSteps > 0, numEnvs > 0 else { return "empty rollout (T=\(numSteps), B=\(numEnvs))" }
        for (name, count) in [
            ("actions", actions.count), ("behaviour_log_probs", behaviourLogProbs.count), ("rewards", rewards.count),
            ("dones", dones.count), ("message_index", messageIndex.count),
            ("message_episode_count", messageEpisodeCount.count),
        ] where count != n {
            return "\(name) has \(count) elements, expected T×B = \(n)"
        }
        for (name, tensor) in observations {
            guard tensor.isConsistent else { return "observation \(name) bytes do not match its shape" }
            guard tensor.shape.count >= 2, tensor.shape[0] == numSteps + 1, tensor.shape[1] == numEnvs else {
                return "observation \(name) has shape \(tensor.shape), expected [T+1, B, ...]"
            }
        }
        guard coreState.count % numEnvs == 0 else { return "core_state has \(coreState.count) elements, not a multiple of B = \(numEnvs)" }
        guard behaviourValues.isEmpty || behaviourValues.count == n else {
            return "behaviour_values has \(behaviourValues.count) elements, expected T×B = \(n)"
        }
        for index in messageIndex where index < -1 || Int(index) >= messages.count {
            return "message index \(index) outside the table of \(messages.count)"
        }
        for episode in episodes where episode.envIndex >= numEnvs || episode.endStep >= numSteps {
            return "episode summary outside the rollout (env \(episode.envIndex), step \(episode.endStep))"
        }
        return nil
    }
}
