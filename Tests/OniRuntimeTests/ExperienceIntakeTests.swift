import Foundation
import OniCore
import OniRewards
import OniRuntime
import OniStorage
import Testing

/// The learner's experience intake in process: steps and losses counted, messages interned once
/// per rollout with their step counts, the live agent's episodes kept apart from replayed ones,
/// and an even fraction of blobs retained under a size cap.
@Suite struct ExperienceIntakeTests {
    static func rollout(worker: String = "w", sequence: UInt64, messages: [String] = [], index: [Int32]? = nil, episodes: [EpisodeSummary] = [], replay: Bool = false) -> Rollout {
        let steps = 2, envs = 2, n = steps * envs
        return Rollout(
            workerID: worker, sequence: sequence, policyVersion: 0, numSteps: steps, numEnvs: envs, envName: "test",
            observations: ["chars": Tensor([UInt8](repeating: 46, count: (steps + 1) * envs * 4), shape: [steps + 1, envs, 2, 2])],
            actions: [Int32](repeating: 0, count: n), behaviourLogProbs: [Float](repeating: -1, count: n),
            rewards: [Float](repeating: 0, count: n), dones: [UInt8](repeating: 0, count: n), messages: messages,
            messageIndex: index ?? [Int32](repeating: -1, count: n), messageEpisodeCount: [Int32](repeating: 0, count: n),
            episodes: episodes, workerEnvSteps: 0, replay: replay)
    }

    static func episode(_ id: UInt64, success: Bool) -> EpisodeSummary {
        EpisodeSummary(envIndex: 0, episodeID: id, episodeReturn: success ? 1 : 0, length: 10, success: success, endStep: 1, seed: id)
    }

    @Test func countsStepsLossesAndMessages() {
        var intake = ExperienceIntake(storeFraction: 1)
        var registry = MessageRegistry()
        let first = intake.take(
            Self.rollout(sequence: 0, messages: ["You find a key.", "It's a wall."], index: [0, 0, 1, -1]), protobuf: Data([1]),
            registry: &registry, receivedUnixMilliseconds: 5)
        #expect(first.newMessages.count == 2 && registry.count == 2)
        #expect(registry.entry(registry.id(of: "You find a key.")!)?.count == 2, "two steps showed it")
        // Sequence 1 and 2 never arrived; the key message is not new any more.
        let second = intake.take(
            Self.rollout(sequence: 3, messages: ["You find a key."], index: [0, -1, -1, -1]), protobuf: Data([2]),
            registry: &registry, receivedUnixMilliseconds: 6)
        #expect(second.newMessages.isEmpty && registry.entry(registry.id(of: "You find a key.")!)?.count == 3)
        // The ids travel with the rollout, slot by slot, to the reward.
        #expect(first.messageIDs == [registry.id(of: "You find a key."), registry.id(of: "It's a wall.")] && second.messageIDs == [first.messageIDs[0]])
        #expect(intake.counters["learner/rollouts_lost"] == 2)
        #expect(intake.envSteps == 8 && intake.rollouts == 2)
        #expect(second.stored.learnerEnvSteps == 8 && second.stored.sequence == 3 && second.stored.receivedUnixMilliseconds == 6)
    }

    @Test func coverageCountsOccurrencesOfLabelledMessagesAtIntake() {
        var intake = ExperienceIntake(storeFraction: 1)
        var registry = MessageRegistry()
        let first = intake.take(
            Self.rollout(sequence: 0, messages: ["You find a key.", "It's a wall."], index: [0, 0, 1, -1]), protobuf: Data(),
            registry: &registry, receivedUnixMilliseconds: 0)
        #expect(intake.coverage.share == 0, "nothing labelled yet: 0 of 3")
        registry.setLabel(first.messageIDs[0]!, 1)
        _ = intake.take(
            Self.rollout(sequence: 1, messages: ["You find a key.", "It's a wall."], index: [0, 1, 1, 0]), protobuf: Data(),
            registry: &registry, receivedUnixMilliseconds: 0)
        #expect(intake.coverage.share == 2.0 / 7, "the key's 2 of this rollout's 4, after 3 unlabelled")
    }

    @Test func coverageForgetsStepsOutsideItsWindow() {
        var coverage = LabelCoverage(window: 100)
        #expect(coverage.share == nil)
        coverage.record(labelled: 0, total: 10, envSteps: 5)
        coverage.record(labelled: 10, total: 10, envSteps: 55)
        #expect(coverage.share == 0.5)
        coverage.record(labelled: 10, total: 10, envSteps: 112)  // steps 0–9 are older than 100
        #expect(coverage.share == 1)
        coverage.record(labelled: 0, total: 0, envSteps: 400)  // a rollout without messages, long after
        #expect(coverage.share == nil, "no occurrence in the last 100 steps")
        coverage.record(labelled: 1, total: 4, envSteps: 500)
        #expect(coverage.share == 0.25)
    }

    @Test func replayedEpisodesAreNotTheAgents() {
        var intake = ExperienceIntake(storeFraction: 1)
        var registry = MessageRegistry()
        _ = intake.take(Self.rollout(sequence: 0, episodes: [Self.episode(1, success: true)]), protobuf: Data(), registry: &registry, receivedUnixMilliseconds: 0)
        _ = intake.take(
            Self.rollout(worker: "replay", sequence: 0, episodes: [Self.episode(2, success: false)], replay: true), protobuf: Data(),
            registry: &registry, receivedUnixMilliseconds: 0)
        #expect(intake.episodes == 1 && intake.successes.mean == 1)
        #expect(intake.counters["replay/rollouts"] == 1 && intake.counters["replay/env_steps"] == 4)
        #expect(intake.envSteps == 8, "replayed steps count toward the budget")
    }

    @Test func keepsAnEvenFraction() {
        var intake = ExperienceIntake(storeFraction: 0.25)
        var registry = MessageRegistry()
        var kept: [UInt64] = []
        for sequence in UInt64(0)..<16 {
            let taken = intake.take(
                Self.rollout(sequence: sequence), protobuf: Data(repeating: 7, count: 100), registry: &registry, receivedUnixMilliseconds: 0)
            if taken.stored.protobuf != nil { kept.append(sequence) }
        }
        // Every fourth rollout (the store's size cap thins the oldest: StoreWriter's tests).
        #expect(kept == [3, 7, 11, 15])
        var resumed = ExperienceIntake(storeFraction: 1)
        resumed.resume(envSteps: 100, episodes: 3)
        let next = resumed.take(Self.rollout(sequence: 0), protobuf: Data(repeating: 7, count: 100), registry: &registry, receivedUnixMilliseconds: 0)
        #expect(next.stored.protobuf != nil && resumed.envSteps == 104 && resumed.episodes == 3, "a resumed run counts on")
    }

    @Test func episodesCutByAFailedEnvironmentAreCountedNotAveraged() throws {
        var intake = ExperienceIntake(storeFraction: 1)
        var registry = MessageRegistry()
        var cut = Self.episode(1, success: false)
        cut.truncated = true
        var rollout = Self.rollout(sequence: 0, episodes: [Self.episode(0, success: true), cut])
        rollout.envFailures = 3  // the cut episode's instance, and two that failed their first reset
        // Through the wire, as a worker sends it.
        let received = try Rollout(wire: rollout.wire)
        #expect(received.envFailures == 3 && received.episodes.map(\.truncated) == [false, true])
        _ = intake.take(received, protobuf: Data([1]), registry: &registry, receivedUnixMilliseconds: 0)
        #expect(intake.counters["worker/env_failures"] == 3)
        #expect(intake.counters["env/episodes_truncated"] == 1)
        #expect(intake.episodes == 2, "both ended")
        #expect(intake.successes.mean == 1 && intake.returns.mean == 1, "the cut episode's partial return is not the agent's")
    }
}
