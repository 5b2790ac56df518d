import Foundation
import Logging
import OniCore
import OniEnvironments
import OniLearning
import OniNeural
import OniRuntime
import OniTestSupport
import OniTransport
import OniWire
import Synchronization
import Testing

/// Damaged and lying frames into the roles themselves (a learner and a worker on threads of
/// this process, over in-memory channels): each handler's own code path decodes, checks and
/// refuses them, and the role's own counters must account for every one. A role that stopped
/// checking what it takes in fails here.
@Suite(.serialized) struct RoleFuzzTests {
    static let logger: Logger = {
        var logger = Logger(label: "test.fuzz")
        logger.logLevel = .critical
        return logger
    }()
    static let maxFrameBytes = 1 << 16

    /// Runs `body` on a thread of its own; returns a way to wait for it and what it threw.
    static func start(_ label: String, _ body: @escaping @Sendable () throws -> Void) -> @Sendable (Double) -> String?? {
        let ended = Mutex<String??>(nil)
        Thread {
            do { try body(); ended.withLock { $0 = .some(nil) } } catch { ended.withLock { $0 = .some("\(error)") } }
        }.start()
        return { seconds in
            let deadline = Date().addingTimeInterval(seconds)
            while ended.withLock({ $0 == nil }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            return ended.withLock { $0 }
        }
    }

    static func status(_ transport: any Transport, _ endpoint: String) throws -> [String: Double] {
        try StatusClient.query(endpoint, transport: transport, timeoutMilliseconds: 5000, logger: logger)?.values ?? [:]
    }

    /// Waits until the learner's status satisfies `done`; returns the last status seen.
    static func waitFor(_ transport: any Transport, _ endpoint: String, seconds: Double = 60, _ done: ([String: Double]) -> Bool) throws
        -> [String: Double]
    {
        let deadline = Date().addingTimeInterval(seconds)
        var last: [String: Double] = [:]
        while Date() < deadline {
            last = try status(transport, endpoint)
            if done(last) { return last }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return last
    }

    @Test func theLearnersHandlersRefuseAndCountEveryDamagedOrLyingFrame() async throws {
        try await onThread { check in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("oni-role-fuzz-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var config = InProcessLearner.config(directory, name: "fz")
            config.annotatorEndpoint = "mem://fz/annotator"
            config.maxFrameBytes = Self.maxFrameBytes
            let transport = InMemoryTransport()
            // The annotator's side, raw: it sees the learner's requests and answers with anything.
            let annotator = try transport.open(.router, .bind("mem://fz/annotator"), options: ChannelOptions())
            defer { annotator.close() }
            try InProcessLearner.run(config, over: transport) {
                let experience = try transport.open(.push, .connect("mem://fz/experience"), options: ChannelOptions())
                defer { experience.close() }
                let codec = FrameCodec()

                // Three good rollouts (two new messages for the annotator), then damaged and lying frames.
                for k in 0..<3 {
                    _ = try experience.send(multipart: [codec.encode(.rollout(sampleRollout(workerID: "fuzz", sequence: UInt64(k)).wire))], dontWait: false)
                }
                let perHandler = 20_000
                var experienceFrames = MalformedFrames(seed: 11, accepts: [.rollout, .hello, .heartbeat], maxFrameBytes: Self.maxFrameBytes)
                check(experienceFrames.damages.contains(.lyingRollout), "experienceFrames.damages.contains(.lyingRollout)")
                for _ in 0..<perHandler { _ = try experience.send(multipart: [experienceFrames.next().frame], dontWait: false) }
                var seen = try Self.waitFor(transport, "mem://fz/control") { $0["learner/frames_refused", default: 0] >= Double(perHandler) }
                check(seen["learner/frames_refused"] == Double(perHandler), "every damaged or lying rollout refused once: \(seen)")
                check(seen["learner/rollouts"] == 3, "the three good rollouts taken in, nothing else")

                // The learner asks about the two messages; answer with damaged and lying replies first.
                var request: (peer: Data, request: Oni_V1_AnnotationRequest)?
                let asked = Date().addingTimeInterval(60)
                while request == nil && Date() < asked {
                    guard try annotator.waitReadable(timeoutMilliseconds: 100), let parts = try annotator.receiveMultipart(dontWait: true, maxParts: 4),
                        parts.count == 2, case let .annotationRequest(r) = try codec.decode(parts[1])
                    else { continue }
                    request = (parts[0], r)
                }
                guard let (peer, question) = request else { return check(false, "the learner asked the annotator") }
                check(question.items.count == 2, "question.items.count == 2")
                var replyFrames = MalformedFrames(seed: 12, accepts: [.annotationReply, .heartbeat], maxFrameBytes: Self.maxFrameBytes)
                check(replyFrames.damages.contains(.lyingReply), "replyFrames.damages.contains(.lyingReply)")
                for _ in 0..<perHandler { _ = try annotator.send(multipart: [peer, replyFrames.next().frame], dontWait: false) }
                seen = try Self.waitFor(transport, "mem://fz/control") { $0["learner/frames_refused", default: 0] >= Double(2 * perHandler) }
                check(seen["learner/frames_refused"] == Double(2 * perHandler), "every damaged or lying reply refused once: \(seen)")
                check(seen["messages/labelled"] == 0, "seen[\"messages/labelled\"] == 0")

                // Damaged status requests: each refused and still answered (a REP must answer).
                let control = try transport.open(.req, .connect("mem://fz/control"), options: ChannelOptions())
                defer { control.close() }
                var controlFrames = MalformedFrames(seed: 13, accepts: [.statusRequest], maxFrameBytes: Self.maxFrameBytes)
                var answered = 0
                for _ in 0..<1000 {
                    _ = try control.send(multipart: [controlFrames.next().frame], dontWait: false)
                    if try control.waitReadable(timeoutMilliseconds: 5000), try control.receiveMultipart(dontWait: true, maxParts: 2) != nil { answered += 1 }
                }
                check(answered == 1000, "answered == 1000")

                // After all that, a good reply still labels both messages.
                var reply = Oni_V1_AnnotationReply()
                reply.requestID = question.requestID
                reply.results = question.items.map { item in
                    AnnotationResult(messageID: item.messageID, outcome: .labelled(value: 1, confidence: 0.9), model: "fuzz", promptHash: "h", reply: "yes").wire
                }
                _ = try annotator.send(multipart: [peer, codec.encode(.annotationReply(reply))], dontWait: false)
                seen = try Self.waitFor(transport, "mem://fz/control") { $0["messages/labelled", default: 0] >= 2 }
                check(seen["messages/labelled"] == 2, "seen[\"messages/labelled\"] == 2")
                check(seen["learner/frames_refused"] == Double(2 * perHandler + 1000), "every refusal counted once: \(seen)")
                check(seen["learner/rollouts"] == 3, "seen[\"learner/rollouts\"] == 3")
            }
        }
    }

    /// Params a worker must not act with: framing intact, contents wrong.
    static func lyingParams(_ good: Oni_V1_Params, _ k: Int) -> Oni_V1_Params {
        var params = good
        params.version = Int64(k)  // newer than anything loaded: always looked at
        switch k % 6 {
        case 0: params.architecture = "{\"not\": \"an architecture\""
        case 1:
            // A network for a game with one more action than this one.
            if var other = try? PolicyParams.architecture(of: good) {
                other.actions += 1
                params.architecture = PolicyParams.encodeArchitecture(other)
            }
        case 2: params.tensors.removeLast()
        case 3: params.tensors[0].tensor.shape = params.tensors[0].tensor.shape.map { $0 + 1 }
        case 4:
            if let tensor = try? Tensor(wire: params.tensors[1].tensor) {
                var values = tensor.floats
                values[values.count / 2] = Float.nan
                params.tensors[1].tensor = Tensor(values, shape: tensor.shape).wire
            }
        default: params.tensors[2].tensor = Tensor([Int32](repeating: 1, count: 4), shape: [4]).wire
        }
        return params
    }

    @Test func theWorkersParamsHandlerRefusesAndCountsEveryDamagedOrLyingFrame() async throws {
        try await onThread { check in
            let transport = InMemoryTransport()
            let experience = try transport.open(.pull, .bind("mem://fw/experience"), options: ChannelOptions())
            let params = try transport.open(.pub, .bind("mem://fw/params"), options: ChannelOptions())
            var config = WorkerConfig()
            config.numEnvs = 2
            config.rolloutLength = 4
            config.heartbeatSeconds = 0  // a heartbeat after every rollout
            config.maxFrameBytes = 1 << 20  // a network's Params (~220 KB here) must fit
            (config.experienceEndpoint, config.paramsEndpoint) = ("mem://fw/experience", "mem://fw/params")
            let stop = StopSignal()
            let worker = UncheckedSendable(try Worker(config: config, transport: transport, stop: stop, logger: Self.logger))
            let finished = Self.start("worker") { try worker.value.run() }
            defer {
                stop.stop(reason: "test done")
                while finished(0.05) == nil { _ = try? experience.receiveMultipart(dontWait: true, maxParts: 2) }
                experience.close()
                params.close()
            }
            let codec = FrameCodec()
            /// Reads the worker's frames until a heartbeat says `refused` frames were refused, or a rollout of `version`.
            func waitUntil(refused: Int? = nil, version: Int64? = nil) throws -> Bool {
                let deadline = Date().addingTimeInterval(20)
                while Date() < deadline {
                    guard try experience.waitReadable(timeoutMilliseconds: 100), let parts = try experience.receiveMultipart(dontWait: true, maxParts: 2)
                    else { continue }
                    switch try codec.decode(parts[0]) {
                    case let .heartbeat(beat) where refused != nil && beat.framesRefused >= UInt64(refused!): return beat.framesRefused == UInt64(refused!)
                    case let .rollout(r) where version != nil && r.policyVersion == version!: return true
                    default: continue
                    }
                }
                return false
            }
            // A params channel conflates (keeps the newest): one frame at a time, each waited for.
            var architecture = PolicyArchitecture(environment: GridWorld(task: .keyroom))!
            architecture.hidden = 32
            let network = PolicyNetwork<Float>(architecture: architecture, seed: 3)
            let good = PolicyParams.encode(network, version: 1_000_000, learnerEnvSteps: 0, learnerID: "fuzz-learner")
            var frames = MalformedFrames(seed: 21, accepts: [.params], maxFrameBytes: 1 << 20)
            let count = 600
            var lying = 0
            for k in 0..<count {
                let frame: Data
                if k % 4 == 3 {
                    frame = codec.encode(.params(Self.lyingParams(good, lying)))
                    lying += 1
                } else {
                    frame = frames.next().frame
                }
                _ = try params.send(multipart: [frame], dontWait: false)
                let counted = try waitUntil(refused: k + 1)
                check(counted, "frame \(k) refused exactly once")
                if !counted { return }
            }
            check(worker.value.paramsRefused == lying && worker.value.policyVersion == -1, "never acted with a lying policy: \(worker.value.paramsRefused) of \(lying) refused, version \(worker.value.policyVersion)")
            // A good policy after all that is taken.
            _ = try params.send(multipart: [codec.encode(.params(good))], dontWait: false)
            check(try waitUntil(version: 1_000_000), "the good policy taken after all that")
        }
    }

    /// Failed checks of a body that runs off the test's task (where `#expect` cannot attribute them).
    final class Checks: @unchecked Sendable {
        private let failed = Mutex<[String]>([])
        var failures: [String] { failed.withLock { $0 } }
        func callAsFunction(_ condition: Bool, _ what: @autoclosure () -> String) {
            if !condition { failed.withLock { $0.append(what()) } }
        }
    }

    /// Runs the synchronous body on a thread of its own (it blocks for a while: not on the
    /// concurrency pool) and expects every one of its checks to have held.
    func onThread(_ body: @escaping @Sendable (Checks) throws -> Void) async throws {
        let checks = Checks()
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            Thread { done.resume(with: Result { try body(checks) }) }.start()
        }
        #expect(checks.failures.isEmpty, "\(checks.failures.joined(separator: "; "))")
    }
}
