import Foundation
import Logging
import OniCore
import OniLearning
import OniRuntime
import OniTestSupport
import OniTransport
import OniWire
import Testing

/// A learner resumed on its run directory goes on counting where it stopped: its counters come
/// back from the store's last metrics snapshot, not from zero.
@Suite(.serialized) struct LearnerResumeTests {
    func config(_ directory: URL, resume: Bool) -> LearnerConfig {
        var config = InProcessLearner.config(directory, name: "lr")
        config.train = false
        config.metricsIntervalSeconds = 0.1
        config.resume = resume
        return config
    }

    /// Runs a learner over a fresh in-memory transport until `body` returns, then stops it.
    func withLearner(_ config: LearnerConfig, _ body: (any Transport) throws -> Void) throws {
        let transport = InMemoryTransport()
        try InProcessLearner.run(config, over: transport) { try body(transport) }
    }

    @Test func countersGoOnFromWhereTheRunStopped() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("oni-resume-counters-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let counted = ["learner/rollouts", "learner/rollouts_lost", "worker/env_failures", "env/episodes_truncated", "learner/foreign_rollouts"]
        var before: [String: Double] = [:]
        try withLearner(config(directory, resume: false)) { transport in
            let experience = try transport.open(.push, .connect("mem://lr/experience"), options: ChannelOptions())
            defer { experience.close() }
            let codec = FrameCodec()
            // Sequences 0, 1, 4 (two lost), one rollout with a failed game, one of another run.
            for sequence: UInt64 in [0, 1, 4] {
                var rollout = sampleRollout(workerID: "w", sequence: sequence)
                if sequence == 4 {
                    rollout.envFailures = 3
                    rollout.episodes[0].truncated = true
                }
                _ = try experience.send(multipart: [codec.encode(.rollout(rollout.wire))], dontWait: false)
            }
            var foreign = sampleRollout(workerID: "x", sequence: 0)
            foreign.runID = "another-run"
            _ = try experience.send(multipart: [codec.encode(.rollout(foreign.wire))], dontWait: false)
            // Until a stored snapshot has them (the figures a killed learner leaves).
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                before = try RoleFuzzTests.status(transport, "mem://lr/control")
                if before["learner/rollouts"] == 3 && before["learner/foreign_rollouts"] == 1 { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            Thread.sleep(forTimeInterval: 0.3)  // a snapshot or two more reaches the store
        }
        #expect(before["learner/rollouts"] == 3 && before["learner/rollouts_lost"] == 2 && before["worker/env_failures"] == 3)
        #expect(before["env/episodes_truncated"] == 1 && before["learner/foreign_rollouts"] == 1)

        try withLearner(config(directory, resume: true)) { transport in
            let after = try RoleFuzzTests.status(transport, "mem://lr/control")
            for name in counted { #expect(after[name] == before[name], "\(name): \(after[name] ?? -1) after the resume, \(before[name] ?? -1) before") }
            // And they go on from there.
            let experience = try transport.open(.push, .connect("mem://lr/experience"), options: ChannelOptions())
            defer { experience.close() }
            var next = sampleRollout(workerID: "w", sequence: 0)
            next.workerStartedUnixMilliseconds += 1  // a new incarnation: no loss
            _ = try experience.send(multipart: [FrameCodec().encode(.rollout(next.wire))], dontWait: false)
            let deadline = Date().addingTimeInterval(30)
            var latest = after
            while latest["learner/rollouts"] != 4 && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.05)
                latest = try RoleFuzzTests.status(transport, "mem://lr/control")
            }
            #expect(latest["learner/rollouts"] == 4 && latest["learner/rollouts_lost"] == 2)
        }
    }
}
