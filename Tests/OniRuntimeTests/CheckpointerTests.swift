import Foundation
import OniLearning
import OniRuntime
import Testing

/// When the learner's checkpoints are written and which milestones are kept, on real files.
@Suite struct CheckpointerTests {
    @Test func checkpointsOnTheIntervalAndAMilestoneAtEachMultiplePassed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("oni-checkpointer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = CheckpointStore(runDirectory: directory)
        let trainer = APPOTrainer(architecture: TrainerThreadTests.architecture, config: TrainingConfig(), seed: 1)
        // A resumed run at 2,500 steps with milestones every 1,000: 1,000 and 2,000 are behind it.
        var checkpointer = Checkpointer(store: store, intervalSeconds: 60, keepEvery: 1000, now: 100, envSteps: 2500)
        #expect(!checkpointer.due(now: 159, envSteps: 2999))
        #expect(checkpointer.due(now: 160, envSteps: 2999), "the interval has passed")
        #expect(checkpointer.due(now: 101, envSteps: 3000), "a multiple of 1,000 is passed")
        #expect(try checkpointer.save(trainer, envSteps: 3100, env: "grid:keyroom", now: 101) == 3000)
        #expect(!checkpointer.due(now: 102, envSteps: 3900), "just saved, next milestone not reached")
        #expect(try checkpointer.save(trainer, envSteps: 3900, env: "grid:keyroom", now: 170) == nil)
        #expect(store.milestones().map(\.envSteps) == [3000])
        #expect(FileManager.default.fileExists(atPath: store.latest.path))
        let restored = APPOTrainer(architecture: TrainerThreadTests.architecture, config: TrainingConfig(), seed: 2)
        guard case let .loaded(metadata, _) = store.load(into: restored) else {
            Issue.record("the checkpoint does not load")
            return
        }
        #expect(metadata.envSteps == 3900)
    }

    @Test func withoutMilestonesOnlyTheIntervalCounts() {
        let store = CheckpointStore(runDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("unused"))
        let checkpointer = Checkpointer(store: store, intervalSeconds: 10, keepEvery: 0, now: 0, envSteps: 0)
        #expect(!checkpointer.due(now: 9, envSteps: 1 << 40) && checkpointer.due(now: 10, envSteps: 0))
    }
}
