import OniCore

/// A small, valid rollout with every field set, for round-trip tests.
public func sampleRollout(workerID: String = "worker-0", sequence: UInt64 = 0, steps: Int = 4, envs: Int = 3) -> Rollout {
    let n = steps * envs
    var rollout = Rollout(
        workerID: workerID, sequence: sequence, policyVersion: -1, numSteps: steps, numEnvs: envs, envName: "grid:keyroom",
        observations: ["chars": Tensor([UInt8]((0..<((steps + 1) * envs * 6)).map { UInt8($0 % 251) }), shape: [steps + 1, envs, 2, 3])],
        actions: (0..<n).map { Int32($0 % 5) }, behaviourLogProbs: (0..<n).map { -Float($0) / 10 },
        rewards: (0..<n).map { $0 == n - 1 ? 1 : 0 }, dones: (0..<n).map { $0 == n - 1 ? 1 : 0 },
        messages: ["You find a key.", "It's a wall."], messageIndex: (0..<n).map { Int32($0 % 3) - 1 },
        messageEpisodeCount: (0..<n).map { $0 % 3 == 0 ? 0 : 1 },
        episodes: [EpisodeSummary(envIndex: envs - 1, episodeID: 7, episodeReturn: 1, length: 31, success: true, endStep: steps - 1, seed: 11)],
        workerEnvSteps: UInt64(n), coreState: (0..<(envs * 2)).map { Float($0) / 4 - 0.5 },
        behaviourValues: (0..<n).map { Float($0) / 8 })
    rollout.workerStartedUnixMilliseconds = 1_796_000_000_000
    return rollout
}

