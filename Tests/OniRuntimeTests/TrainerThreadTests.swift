import Foundation
import OniCore
import OniLearning
import OniRuntime
import Testing

/// The trainer on its own thread, in process: batches of whole rollouts, the lag bound applied
/// when a batch is formed, access to the network between updates.
@Suite struct TrainerThreadTests {
    static var architecture: PolicyArchitecture {
        var a = PolicyArchitecture(height: 3, width: 4, statusSize: 2, actions: 3, messageLength: 0)
        a.embedding = 2
        a.filters = 2
        a.hidden = 6
        a.core = .none
        return a
    }

    static func batch(version: Int64, seed: UInt64, steps: Int = 4, envs: Int = 4, replay: Bool = false) throws -> TrainingBatch {
        let a = architecture
        var rng = SeededGenerator(seed: seed)
        let rows = (steps + 1) * envs, n = steps * envs
        let rollout = Rollout(
            workerID: "w", sequence: seed, policyVersion: version, numSteps: steps, numEnvs: envs, envName: "test",
            observations: [
                "chars": Tensor((0..<(rows * 12)).map { _ in UInt8(40 + rng.below(20)) }, shape: [steps + 1, envs, 3, 4]),
                "status": Tensor((0..<(rows * 2)).map { _ in Int32(rng.below(9)) }, shape: [steps + 1, envs, 2]),
            ],
            actions: (0..<n).map { _ in Int32(rng.below(3)) }, behaviourLogProbs: [Float](repeating: -1.1, count: n),
            rewards: (0..<n).map { _ in Float(rng.below(2)) }, dones: [UInt8](repeating: 0, count: n), messages: [],
            messageIndex: [Int32](repeating: -1, count: n), messageEpisodeCount: [Int32](repeating: 0, count: n), episodes: [],
            workerEnvSteps: 0, replay: replay)
        return try TrainingBatch(rollout: rollout, architecture: a)
    }

    static func thread(batchSamples: Int, maxLag: Int64 = 100) -> TrainerThread {
        TrainerThread(
            trainer: APPOTrainer(architecture: architecture, config: TrainingConfig(), seed: 1),
            settings: .init(batchSamples: batchSamples, maxPolicyLag: maxLag))
    }

    @Test func trainsOnceAFullBatchIsQueued() throws {
        let trainer = Self.thread(batchSamples: 48)  // three rollouts of 16 steps
        trainer.start()
        defer { trainer.stop() }
        trainer.submit(try Self.batch(version: -1, seed: 1))
        trainer.submit(try Self.batch(version: -1, seed: 2))
        #expect(!trainer.wait(forVersion: 1, timeout: 0.3), "two rollouts are not a batch")
        #expect(trainer.queuedSamples == 32)
        trainer.submit(try Self.batch(version: -1, seed: 3))
        #expect(trainer.wait(forVersion: 1, timeout: 30))
        let progress = trainer.snapshot
        #expect(progress.updates == 1 && progress.samplesTrained == 48 && trainer.queuedSamples == 0)
        #expect(progress.stats["learner/batch_samples"] == 48)
        #expect(progress.counters["learner/random_rollouts"] == 3)
    }

    @Test func rolloutsPastTheLagBoundAreCountedNotTrained() throws {
        let trainer = Self.thread(batchSamples: 16, maxLag: 1)
        trainer.start()
        defer { trainer.stop() }
        for seed in UInt64(1)...3 {
            trainer.submit(try Self.batch(version: trainer.version, seed: seed))
            #expect(trainer.wait(forVersion: Int64(seed), timeout: 30))
        }
        // Version 3 now: a rollout of version 1 lags by 2, one of version 7 is from another learner.
        trainer.submit(try Self.batch(version: 1, seed: 10))
        trainer.submit(try Self.batch(version: 7, seed: 11))
        trainer.submit(try Self.batch(version: 1, seed: 12, replay: true))  // replayed: off-policy by design
        #expect(trainer.wait(forVersion: 4, timeout: 30))
        let progress = trainer.snapshot
        #expect(progress.counters["learner/rollouts_too_old"] == 1)
        #expect(progress.counters["learner/rollouts_foreign_version"] == 1)
        #expect(progress.updates == 4 && progress.samplesTrained == 64)
        #expect(progress.lags.mean == 0)
    }

    @Test func rolloutsOfAnotherLengthWaitForABatchOfTheirOwn() throws {
        let trainer = Self.thread(batchSamples: 32)
        trainer.submit(try Self.batch(version: -1, seed: 1, steps: 4))
        trainer.submit(try Self.batch(version: -1, seed: 2, steps: 2))
        trainer.submit(try Self.batch(version: -1, seed: 3, steps: 4))
        trainer.start()
        defer { trainer.stop() }
        #expect(trainer.wait(forVersion: 1, timeout: 30))
        #expect(trainer.snapshot.samplesTrained == 32)
        #expect(trainer.queuedSamples == 8)  // the 2-step rollout
    }

    @Test func theNetworkIsReadBetweenUpdates() throws {
        let trainer = Self.thread(batchSamples: 16)
        trainer.start()
        let before = trainer.withTrainer { $0.network.exportWeights().flatMap(\.values) }
        for seed in UInt64(1)...5 { trainer.submit(try Self.batch(version: -1, seed: seed)) }
        #expect(trainer.wait(forVersion: 5, timeout: 30))
        let (version, after) = trainer.withTrainer { ($0.version, $0.network.exportWeights().flatMap(\.values)) }
        #expect(version == 5 && before != after)
        trainer.stop()
        // Stopped: what is queued stays untrained.
        trainer.submit(try Self.batch(version: -1, seed: 9))
        #expect(!trainer.wait(forVersion: 6, timeout: 0.2))
    }
}
