import Foundation
import Logging
import OniCore
import OniRuntime
import OniStorage
import OniTelemetry
import OniTestSupport
import OniTransport
import OniWire
import Testing

/// Runs kept apart, and evaluation on the side, with the roles as real processes.
extension RolesOverSocketsTests {
    /// A worker of another run (crossed ports) is refused: none of its rollouts is taken in, and
    /// it never acts with this run's policy. A worker of this run, beside it, is served as usual.
    @Test func aWorkerOfAnotherRunIsRefused() throws {
        let context = ZMQContext()
        let ports = Ports()
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let learner = try learner(ports, runDirectory: run, annotate: false, extra: ["--batch-size", "256"])
        #expect(eventually(seconds: 30) { RunIdentity.saved(in: URL(fileURLWithPath: run)) != nil })
        let runID = try #require(RunIdentity.saved(in: URL(fileURLWithPath: run)))
        let stranger = try worker(ports, id: "stranger", extra: ["--run-id", "some-other-run"])
        let member = try worker(ports, id: "member", extra: ["--run-id", runID])
        #expect(eventually(seconds: 60) {
            let s = status(ports, context)
            return (s["learner/foreign_rollouts"] ?? 0) >= 3 && (s["learner/policy_version"] ?? 0) >= 1
        }, "\(status(ports, context))")
        #expect(stranger.stop() == 0)
        #expect(member.stop() == 0)
        #expect(stranger.output.contains("params of another run ignored"), "\(stranger.output)")
        #expect(!stranger.output.contains("acting with the learner's policy"))
        #expect(learner.stop() == 0)
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        let workers = try store.database.prepare("SELECT DISTINCT worker_id FROM rollouts")
        var ids: [String] = []
        while try workers.step() { ids.append(workers.text(0)) }
        #expect(ids == ["member"])
        #expect(RunEndpoints.read(in: URL(fileURLWithPath: run))?.control == ports.tcp(ports.control))
    }

    /// --eval-every: the policy is evaluated on the side while training goes on, and the results
    /// are metrics like any other (here through the control socket, and in the store's snapshots).
    @Test func evaluationsDuringTrainingBecomeMetrics() throws {
        let context = ZMQContext()
        let ports = Ports()
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let learner = try learner(ports, runDirectory: run, annotate: false, extra: ["--batch-size", "256", "--eval-every", "1500", "--eval-episodes", "3"])
        let worker = try worker(ports)
        #expect(eventually(seconds: 90) { (status(ports, context)["eval/evaluations"] ?? 0) >= 2 }, "\(status(ports, context))")
        let s = status(ports, context)
        #expect(s["eval/episodes"] == 3 && (s["eval/env_steps"] ?? 0) >= 1500 && s["eval/return"] != nil && s["eval/success"] != nil)
        #expect((s["learner/policy_version"] ?? 0) >= 1)
        #expect(worker.stop() == 0)
        #expect(learner.stop() == 0)
        #expect(learner.output.contains("evaluated"), "\(learner.output)")
    }
}
