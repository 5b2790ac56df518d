import Foundation
import Logging
import OniCore
import OniRuntime
import OniStorage
import OniTransport
import OniWire
import Testing

/// `oni-worker --worker-threads`: environments stepped on several threads, over real sockets.
@Suite(.serialized) struct WorkerThreadsTests {
    let logger = Logger(label: "test.worker-threads")

    /// The first `count` rollouts a worker with `threads` threads sends (it acts at random: no learner publishes Params).
    func rollouts(threads: Int, count: Int) throws -> [Rollout] {
        let port = FreePorts.one(), params = FreePorts.one()
        let pull = try MessageChannel(
            transport: ZMQContext(), type: .pull, .bind("tcp://127.0.0.1:\(port)"), name: "experience", accepts: [.rollout, .hello, .heartbeat], logger: logger)
        defer { pull.close() }
        let worker = try ChildProcess(
            "oni-worker",
            [
                "--id", "w", "--seed", "7", "--env", "grid:rats", "--num-envs", "6", "--rollout-length", "20", "--worker-threads", "\(threads)",
                "--experience", "tcp://127.0.0.1:\(port)", "--params", "tcp://127.0.0.1:\(params)",
            ], name: "worker-\(threads)")
        defer { _ = worker.stop() }
        var received: [Rollout] = []
        let deadline = Date().addingTimeInterval(60)
        while received.count < count && Date() < deadline {
            if case let .rollout(wire)? = try pull.receive(timeoutMilliseconds: 500) { received.append(try Rollout(wire: wire)) }
        }
        #expect(received.count == count, "\(worker.output)")
        return received
    }

    /// Everything a rollout says about the play, wire encoding included.
    func play(_ r: Rollout) throws -> Data {
        var wire = r.wire
        wire.workerEnvSteps = 0
        wire.workerStartedUnixMs = 0  // when the process started, not what it played
        return try wire.serializedData()
    }

    @Test func theSameThreadCountReplaysTheSameRun() throws {
        for threads in [1, 3] {
            let first = try rollouts(threads: threads, count: 4), second = try rollouts(threads: threads, count: 4)
            #expect(try first.map(play) == second.map(play), "\(threads) threads")
            // Episodes end inside these rollouts (rats: 100-step limit), so resets and their seeds are covered.
            #expect(first.contains { !$0.episodes.isEmpty })
            #expect(Set(first.flatMap(\.episodes).map(\.episodeID)).count == first.flatMap(\.episodes).count, "episode ids are unique")
        }
        // Other thread counts split the environments otherwise: other random streams, the same shapes.
        let one = try rollouts(threads: 1, count: 2), three = try rollouts(threads: 3, count: 2)
        #expect(try one.map(play) != three.map(play))
        #expect(one.map(\.numEnvs) == three.map(\.numEnvs) && one.map { $0.observations.keys.sorted() } == three.map { $0.observations.keys.sorted() })
    }

    /// A threaded worker loads the learner's Params into every group and acts with them: the
    /// learner trains on its rollouts and stores rollouts acted by its published versions.
    @Test func aThreadedWorkerActsWithTheLearnersPolicy() throws {
        let context = ZMQContext()
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("oni-wt-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: run) }
        let (experience, params, metrics, control) = (FreePorts.one(), FreePorts.one(), FreePorts.one(), FreePorts.one())
        func tcp(_ port: Int) -> String { "tcp://127.0.0.1:\(port)" }
        let learner = try ChildProcess(
            "oni-learner",
            [
                "--run-dir", run, "--experience-bind", tcp(experience), "--params-bind", tcp(params), "--metrics-bind", tcp(metrics),
                "--control-bind", tcp(control), "--metrics-interval", "0.2", "--embedding", "2", "--filters", "2", "--hidden", "16",
                "--batch-size", "128", "--env", "grid:keyroom",
            ])
        let worker = try ChildProcess(
            "oni-worker",
            [
                "--id", "threaded", "--env", "grid:keyroom", "--num-envs", "4", "--rollout-length", "16", "--worker-threads", "2",
                "--experience", tcp(experience), "--params", tcp(params),
            ], name: "threaded")
        func status() -> [String: Double] {
            ((try? StatusClient.query(tcp(control), transport: context, timeoutMilliseconds: 2000, logger: logger)) ?? nil)?.values ?? [:]
        }
        let trained = eventually(seconds: 90) { (status()["learner/policy_version"] ?? 0) >= 4 }
        #expect(trained, "\(learner.output)\n\(worker.output)")
        #expect(eventually(seconds: 30) { (status()["learner/rollouts"] ?? 0) >= 40 })
        #expect(worker.stop() == 0, "\(worker.output)")
        #expect(learner.stop() == 0, "\(learner.output)")
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        let acted = try store.database.scalarInt("SELECT count(*) FROM rollouts WHERE policy_version >= 1") ?? 0
        #expect(acted > 0, "no rollout was acted by a published policy")
    }
}
