import Foundation
import Logging
import OniRuntime
import OniStorage
import OniTestSupport
import OniTransport
import OniWire
import Synchronization
import Testing

/// Processes dying, servers failing and peers sending garbage, over real sockets between
/// the real executables. Each test is bounded in time; none asserts a speed.
@Suite(.serialized) struct FaultTests {
    let roles = RolesOverSocketsTests()
    let logger = Logger(label: "oni.test.faults")

    func status(_ ports: RolesOverSocketsTests.Ports, _ context: ZMQContext) -> [String: Double] {
        roles.status(ports, context)
    }

    @Test func aKilledWorkerIsNoticedTheOtherTrainsOnAndARestartedOneRejoins() throws {
        let ports = RolesOverSocketsTests.Ports()
        let run = roles.temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let context = ZMQContext()
        let learner = try roles.learner(ports, runDirectory: run, annotate: false, extra: ["--liveness-timeout", "2"])
        defer { _ = learner.stop() }
        let first = try roles.worker(ports, id: "worker-0")
        defer { _ = first.stop() }
        var second = try roles.worker(ports, id: "worker-1")
        #expect(eventually(seconds: 60) { status(ports, context)["workers/live"] == 2 }, "\(learner.output)")

        second.signal(SIGKILL)
        _ = second.wait(seconds: 10)
        #expect(eventually(seconds: 60) { status(ports, context)["workers/live"] == 1 }, "the learner did not notice the dead worker")
        // Training goes on with the one left.
        let version = status(ports, context)["learner/policy_version"] ?? 0
        let rollouts = status(ports, context)["learner/rollouts"] ?? 0
        #expect(eventually(seconds: 60) {
            let s = status(ports, context)
            return (s["learner/rollouts"] ?? 0) >= rollouts + 10 && (s["learner/policy_version"] ?? 0) > version
        }, "\(learner.output)")

        // The same worker started again joins the run again.
        second = try roles.worker(ports, id: "worker-1")
        defer { _ = second.stop() }
        #expect(eventually(seconds: 60) { status(ports, context)["workers/live"] == 2 }, "\(second.output)")
        #expect(learner.output.components(separatedBy: "id=worker-1 [OniRuntime] worker alive").count - 1 >= 2, "\(learner.output)")
    }

    /// The annotator is SIGKILLed while requests are in flight and started again later: the
    /// learner trains on meanwhile, re-sends what went unanswered, and every message ends up
    /// with exactly one label (requests queued for the dead annotator reach the new one too,
    /// so it answers some twice: the second answer is dropped).
    @Test func aKilledAnnotatorLosesNoLabelAndDuplicatesNone() throws {
        // Slow answers, so the kill finds requests in flight.
        let llm = try FakeLLMServer { _, _ in .hang(seconds: 1) }
        defer { llm.stop() }
        let ports = RolesOverSocketsTests.Ports()
        let run = roles.temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let context = ZMQContext()
        let learner = try roles.learner(ports, runDirectory: run, annotate: true, extra: ["--annotation-timeout", "1.5"])
        defer { _ = learner.stop() }
        let worker = try roles.worker(ports)
        defer { _ = worker.stop() }
        var annotator = try roles.annotator(ports, llm: llm, run: run)
        #expect(eventually(seconds: 90) { (status(ports, context)["annotation/pending"] ?? 0) >= 1 }, "\(annotator.output)")

        annotator.signal(SIGKILL)
        _ = annotator.wait(seconds: 10)
        let rollouts = status(ports, context)["learner/rollouts"] ?? 0
        // Without its annotator the learner trains on and its requests time out.
        #expect(eventually(seconds: 90) {
            let s = status(ports, context)
            return (s["learner/rollouts"] ?? 0) >= rollouts + 5 && (s["annotation/timeouts"] ?? 0) >= 1
        }, "\(status(ports, context))\n\(learner.output)")

        annotator = try roles.annotator(ports, llm: llm, run: run)
        defer { _ = annotator.stop() }
        // Every message seen is labelled in the end: stop the play (no new messages), then wait
        // until nothing is waiting or in flight.
        _ = worker.stop()
        // Quiet means: no rollout taken for 3 s (the learner drains what the worker sent last,
        // which may bring a new message), and nothing waiting or in flight.
        var lastRollouts = -1.0
        var quietSince = Date()
        let settled = eventually(seconds: 120) {
            let s = status(ports, context)
            let rollouts = s["learner/rollouts"] ?? -1
            if rollouts != lastRollouts { (lastRollouts, quietSince) = (rollouts, Date()) }
            return Date().timeIntervalSince(quietSince) >= 3 && (s["annotation/pending"] ?? 1) == 0
                && (s["annotation/waiting"] ?? 1) == 0 && (s["messages/labelled"] ?? 0) >= 2
        }
        #expect(settled, "\(status(ports, context))")
        #expect(learner.stop() == 0)

        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        let messages = try store.messages()
        #expect(!messages.isEmpty)
        #expect(messages.allSatisfy { $0.label != nil }, "unlabelled: \(messages.filter { $0.label == nil }.map(\.text))")
        let duplicates = try store.database.prepare("SELECT count(*) FROM (SELECT message_id FROM labels GROUP BY message_id HAVING count(*) > 1)")
        #expect(try duplicates.step())
        #expect(duplicates.int(0) == 0, "messages with more than one label row")
    }

    /// An LLM server that fails in every way for a while (500s, garbage, replies slower than
    /// the timeout), then recovers: counted and retried, training never waits, labels come.
    @Test func aFailingLLMServerIsCountedRetriedAndNeverBlocks() throws {
        let healthy = Atomic<Bool>(false)
        let llm = try FakeLLMServer { message, number in
            if healthy.load(ordering: .relaxed) { return .reply(message.contains("key") ? "<label>yes</label>" : "<label>no</label>") }
            switch number % 3 {
            case 0: return .status(500)
            case 1: return .garbage
            default: return .hang(seconds: 5)
            }
        }
        defer { llm.stop() }
        let ports = RolesOverSocketsTests.Ports()
        let run = roles.temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let context = ZMQContext()
        let learner = try roles.learner(ports, runDirectory: run, annotate: true)
        defer { _ = learner.stop() }
        let worker = try roles.worker(ports)
        defer { _ = worker.stop() }
        let annotator = try ChildProcess(
            "oni-annotator",
            [
                "--bind", ports.tcp(ports.annotator), "--llm-url", llm.baseURL.absoluteString, "--llm-retries", "2",
                "--llm-timeout", "1", "--no-cache",
            ])
        defer { _ = annotator.stop() }

        // While the server fails, the learner keeps training and the failures are counted.
        #expect(eventually(seconds: 60) {
            let s = status(ports, context)
            return (s["annotator/llm_failures"] ?? 0) >= 2 && (s["annotator/llm_retries"] ?? 0) >= 2 && (s["learner/policy_version"] ?? 0) >= 3
        }, "\(status(ports, context))\n\(annotator.output)")
        let labelledBefore = status(ports, context)["messages/labelled"] ?? 0
        #expect(labelledBefore == 0)

        healthy.store(true, ordering: .relaxed)
        // After the server recovers, the failed messages are asked again and labelled.
        #expect(eventually(seconds: 90) { (status(ports, context)["messages/labelled"] ?? 0) >= 2 }, "\(status(ports, context))")
        #expect(annotator.isRunning && learner.isRunning)
    }

    /// 100,000 damaged frames into each socket the learner and the annotator bind, over TCP:
    /// every one refused and counted, both still answering, memory flat.
    @Test func damagedFramesOverTheNetworkAreRefusedCountedAndSurvived() throws {
        let llm = try FakeLLMServer { _, _ in .reply("<label>no</label>") }
        defer { llm.stop() }
        let ports = RolesOverSocketsTests.Ports()
        let run = roles.temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let limit = 65536
        let learner = try roles.learner(ports, runDirectory: run, annotate: false, extra: ["--max-frame-bytes", "\(limit)"])
        defer { _ = learner.stop() }
        let annotator = try ChildProcess(
            "oni-annotator", ["--bind", ports.tcp(ports.annotator), "--llm-url", llm.baseURL.absoluteString, "--no-cache", "--max-frame-bytes", "\(limit)"])
        defer { _ = annotator.stop() }
        let context = ZMQContext()
        #expect(eventually(seconds: 60) { !status(ports, context).isEmpty })
        #expect(eventually(seconds: 60) {
            ((try? AnnotatorStatusClient.query(ports.tcp(ports.annotator), transport: context, logger: logger)) ?? nil) != nil
        })
        let learnerMemory = residentBytes(pid: learner.process.processIdentifier) ?? 0
        let annotatorMemory = residentBytes(pid: annotator.process.processIdentifier) ?? 0
        let count = 100_000

        // The learner's experience socket (PULL).
        var frames = MalformedFrames(seed: 1, accepts: [.rollout, .hello, .heartbeat], maxFrameBytes: limit)
        let push = try ZMQSocket(context: context, type: .push)
        defer { push.close() }
        try push.connect(ports.tcp(ports.experience))
        for _ in 0..<count { try push.send(frames.next().frame) }
        #expect(eventually(seconds: 120) { status(ports, context)["learner/frames_refused"] == Double(count) }, "\(status(ports, context))")

        // The annotator's request socket (ROUTER), from a DEALER.
        frames = MalformedFrames(seed: 2, accepts: [.annotationRequest, .heartbeat], maxFrameBytes: limit)
        let dealer = try ZMQSocket(context: context, type: .dealer)
        defer { dealer.close() }
        try dealer.connect(ports.tcp(ports.annotator))
        for _ in 0..<count { try dealer.send(frames.next().frame) }
        var annotatorRefused: UInt64 = 0
        #expect(eventually(seconds: 120) {
            annotatorRefused = ((try? AnnotatorStatusClient.query(ports.tcp(ports.annotator), transport: context, logger: logger)) ?? nil)?.framesRefused ?? 0
            return annotatorRefused == UInt64(count)
        }, "annotator refused \(annotatorRefused)")

        // The learner's control socket (REP): each damaged request still gets an answer.
        frames = MalformedFrames(seed: 3, accepts: [.statusRequest], maxFrameBytes: limit)
        let control = try ZMQSocket(context: context, type: .dealer)
        defer { control.close() }
        try control.setReceiveTimeout(milliseconds: 10_000)
        try control.connect(ports.tcp(ports.control))
        let controlCount = 10_000
        var answered = 0
        for _ in 0..<controlCount {
            // A DEALER talks to a REP with an empty delimiter part first.
            try control.send(multipart: [Data(), frames.next().frame])
            guard try control.receiveMultipart() != nil else { break }
            answered += 1
        }
        #expect(answered == controlCount)
        #expect(eventually(seconds: 60) { status(ports, context)["learner/frames_refused"] == Double(count + controlCount) }, "\(status(ports, context))")

        #expect(learner.isRunning && annotator.isRunning)
        let learnerGrowth = (residentBytes(pid: learner.process.processIdentifier) ?? 0) - learnerMemory
        let annotatorGrowth = (residentBytes(pid: annotator.process.processIdentifier) ?? 0) - annotatorMemory
        print("fuzz over TCP: \(count) frames each into the learner's experience and the annotator's request socket, \(controlCount) into the control socket; resident memory learner \(learnerMemory >> 20) → +\(learnerGrowth >> 20) MiB, annotator \(annotatorMemory >> 20) → +\(annotatorGrowth >> 20) MiB")
        #expect(learnerGrowth < 128 << 20, "learner grew by \(learnerGrowth >> 20) MiB")
        #expect(annotatorGrowth < 128 << 20, "annotator grew by \(annotatorGrowth >> 20) MiB")
        let log = learner.output
        #expect(log.contains("refused frame"), "refusals are logged")
        // Logged sparingly: the first few of each reason, then one in a thousand.
        #expect(log.components(separatedBy: "refused frame").count < 400, "too many log lines")
        #expect(learner.stop() == 0)
    }
}
