import Foundation
import Logging
import OniCore
import OniStorage
import OniTelemetry
import OniTransport
import OniWire

/// The learner: receives rollouts, interns and counts their messages, stores
/// everything in the run directory, asks the annotator for labels of new
/// messages (never waiting for it) and publishes metrics.
public final class Learner {
    public let config: LearnerConfig
    private let logger: Logger
    private let stop: StopSignal
    private let context: ZMQContext

    private var registry = MessageRegistry()
    private var annotation: AnnotationQueue
    private var liveness: LivenessTracker
    private var returns = RollingWindow(capacity: 100)
    private var lengths = RollingWindow(capacity: 100)
    private var successes = RollingWindow(capacity: 100)
    private var counters: [String: Double] = [:]
    private(set) public var envSteps: UInt64 = 0
    private var episodes: UInt64 = 0
    private var rollouts: UInt64 = 0
    private var lastSequence: [String: UInt64] = [:]
    /// Environment steps per second over the last metrics interval.
    private var fps = 0.0
    private let startTime = Date()

    /// Endpoints actually bound (wildcard ports resolved), available once `run` has bound them.
    public private(set) var boundEndpoints: [String: String] = [:]

    public init(config: LearnerConfig, context: ZMQContext, stop: StopSignal, logger: Logger) {
        self.config = config
        self.logger = logger
        self.stop = stop
        self.context = context
        annotation = AnnotationQueue(
            batchSize: config.llmBatchSize, maxInFlight: config.maxAnnotationRequestsInFlight, timeout: config.annotationTimeoutSeconds)
        liveness = LivenessTracker(timeout: config.livenessTimeoutSeconds)
    }

    private var now: Double { Date().timeIntervalSince1970 }

    /// Runs until stopped (signal or `maxEnvSteps`), then flushes the store.
    public func run() throws {
        let runDirectory = URL(fileURLWithPath: config.runDirectory)
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        let storePath = runDirectory.appendingPathComponent(RunStore.fileName).path
        try restore(storePath: storePath)
        let writer = try StoreWriter(path: storePath, logger: logger)
        let jsonl = try JSONLinesMetricsSink(path: runDirectory.appendingPathComponent("metrics.jsonl").path)

        let codec = FrameCodec(maxFrameBytes: config.maxFrameBytes)
        let experience = try MessageSocket(
            context: context, type: .pull, name: "experience", accepts: [.rollout, .hello, .heartbeat], codec: codec, logger: logger)
        try experience.socket.setReceiveHighWaterMark(256)
        try experience.socket.bind(config.experienceBind)
        let params = try MessageSocket(context: context, type: .pub, name: "params", accepts: [], codec: codec, logger: logger)
        try params.socket.bind(config.paramsBind)
        let metrics = try MessageSocket(context: context, type: .pub, name: "metrics", accepts: [], codec: codec, logger: logger)
        try metrics.socket.bind(config.metricsBind)
        let control = try MessageSocket(context: context, type: .rep, name: "control", accepts: [.statusRequest], codec: codec, logger: logger)
        try control.socket.bind(config.controlBind)
        var annotator: MessageSocket?
        if let endpoint = config.annotatorEndpoint {
            let socket = try MessageSocket(context: context, type: .dealer, name: "annotator", accepts: [.annotationReply], codec: codec, logger: logger)
            try socket.socket.setImmediate(true)
            try socket.socket.setReconnectInterval(milliseconds: 100, max: 2000)
            try socket.socket.connect(endpoint)
            annotator = socket
        }
        defer {
            for socket in [experience, params, metrics, control] { socket.close() }
            annotator?.close()
        }
        boundEndpoints = [
            "experience": try experience.socket.lastEndpoint(), "params": try params.socket.lastEndpoint(),
            "metrics": try metrics.socket.lastEndpoint(), "control": try control.socket.lastEndpoint(),
        ]
        logger.info(
            "learner started",
            metadata: [
                "run": "\(config.runDirectory)", "experience": "\(boundEndpoints["experience"]!)",
                "annotator": "\(config.annotatorEndpoint ?? "none (no annotation)")", "resumed_messages": "\(registry.count)",
                "resumed_env_steps": "\(envSteps)",
            ])

        var sockets = [experience, control]
        if let annotator { sockets.append(annotator) }
        var lastMetrics = Date()
        var stepsAtLastMetrics = envSteps
        var timeAtLastMetrics = Date()

        while !stop.isStopped {
            let ready = try Poller.readable(sockets.map(\.socket), timeoutMilliseconds: 20)
            if ready[0] {
                // Drain a bounded number per turn so control and replies are never starved.
                for _ in 0..<64 {
                    guard let parts = try experience.socket.receiveMultipart(dontWait: true) else { break }
                    guard let routed = experience.accept(parts) else { continue }
                    handleExperience(routed.message, frame: parts[0], socket: experience, writer: writer)
                }
            }
            if ready[1], let parts = try control.socket.receiveMultipart(dontWait: true) {
                // REP must answer every request, even a refused one, or the socket stalls.
                _ = control.accept(parts)
                try control.send(.metrics(snapshot(writer: writer, sockets: sockets)))
            }
            if let annotator {
                if ready[2] {
                    while let message = try annotator.receive(timeoutMilliseconds: 0) {
                        if case let .annotationReply(reply) = message { handleReply(reply, writer: writer, socket: annotator) }
                    }
                }
                sendAnnotationRequests(annotator)
            }

            if Date().timeIntervalSince(lastMetrics) >= config.metricsIntervalSeconds {
                let elapsed = Date().timeIntervalSince(timeAtLastMetrics)
                fps = elapsed > 0 ? Double(envSteps - stepsAtLastMetrics) / elapsed : 0
                stepsAtLastMetrics = envSteps
                timeAtLastMetrics = Date()
                lastMetrics = Date()
                flushMessages(writer)
                let snapshot = snapshot(writer: writer, sockets: sockets)
                _ = try metrics.send(.metrics(snapshot), dontWait: true)
                writer.submit(.metrics(unixMilliseconds: snapshot.unixMs, envSteps: snapshot.envSteps, values: snapshot.values))
                do { try jsonl.write(snapshot) } catch { logger.error("metrics.jsonl write failed", metadata: ["error": "\(error)"]) }
            }
            if config.maxEnvSteps > 0 && envSteps >= config.maxEnvSteps {
                stop.stop(reason: "reached \(config.maxEnvSteps) env steps")
            }
        }

        flushMessages(writer)
        let final = snapshot(writer: writer, sockets: sockets)
        writer.submit(.metrics(unixMilliseconds: final.unixMs, envSteps: final.envSteps, values: final.values))
        try? jsonl.write(final)
        _ = try? metrics.send(.metrics(final), dontWait: true)
        writer.close()
        logger.info(
            "learner stopped",
            metadata: [
                "reason": "\(stop.stopReason ?? "")", "env_steps": "\(envSteps)", "messages": "\(registry.count)",
                "labelled": "\(registry.labelledCount)", "store_written": "\(writer.currentStats.written)",
            ])
    }

    // MARK: Restore

    private func restore(storePath: String) throws {
        guard FileManager.default.fileExists(atPath: storePath) else { return }
        let store = try RunStore(path: storePath)
        for row in try store.messages() {
            registry.restore(id: row.id, text: row.text, count: row.count, firstSeenEnvSteps: row.firstSeenEnvSteps, label: row.label)
            if row.label == nil { annotation.enqueue(row.id) }
        }
        envSteps = try store.lastLearnerEnvSteps()
        episodes = UInt64(try store.count(.episodes))
        store.close()
        _ = registry.takeDirty()
    }

    // MARK: Experience

    private func handleExperience(_ message: WireMessage, frame: Data, socket: MessageSocket, writer: StoreWriter) {
        switch message {
        case let .hello(hello):
            if liveness.heard(id: hello.id, role: hello.role, now: now) {
                logger.info("worker joined", metadata: ["id": "\(hello.id)", "host": "\(hello.host)", "pid": "\(hello.pid)", "env": "\(hello.envName)"])
            }
        case let .heartbeat(beat):
            if liveness.heard(id: beat.id, role: beat.role, now: now, envSteps: beat.envSteps, policyVersion: beat.policyVersion) {
                logger.info("worker alive", metadata: ["id": "\(beat.id)"])
            }
        case let .rollout(wire):
            let rollout: Rollout
            do {
                rollout = try Rollout(wire: wire)
            } catch {
                socket.refuse(.invalidPayload(kind: .rollout, reason: error.reason), detail: wire.workerID)
                return
            }
            ingest(rollout, protobuf: frame.dropFirst(WireProtocol.headerSize), writer: writer)
        default:
            break
        }
    }

    private func ingest(_ rollout: Rollout, protobuf: Data, writer: StoreWriter) {
        if liveness.heard(id: rollout.workerID, role: "worker", now: now, envSteps: rollout.workerEnvSteps, policyVersion: rollout.policyVersion) {
            logger.info("worker sending", metadata: ["id": "\(rollout.workerID)"])
        }
        if let last = lastSequence[rollout.workerID], rollout.sequence > last + 1 {
            counters["learner/rollouts_lost", default: 0] += Double(rollout.sequence - last - 1)
        }
        lastSequence[rollout.workerID] = rollout.sequence
        rollouts += 1
        envSteps += UInt64(rollout.stepCount)

        // Count each distinct message once per rollout, with its number of steps.
        var occurrences = [Int64](repeating: 0, count: rollout.messages.count)
        for index in rollout.messageIndex where index >= 0 { occurrences[Int(index)] += 1 }
        for (i, text) in rollout.messages.enumerated() where occurrences[i] > 0 {
            let (id, isNew) = registry.observe(text, occurrences: occurrences[i], envSteps: envSteps)
            if isNew && config.annotatorEndpoint != nil { annotation.enqueue(id) }
        }
        for episode in rollout.episodes {
            episodes += 1
            returns.append(episode.episodeReturn)
            lengths.append(Double(episode.length))
            successes.append(episode.success ? 1 : 0)
        }
        if config.storeRollouts {
            writer.submit(
                .rollout(
                    StoredRollout(
                        workerID: rollout.workerID, sequence: rollout.sequence, policyVersion: rollout.policyVersion,
                        steps: rollout.stepCount, learnerEnvSteps: envSteps, replay: rollout.replay,
                        receivedUnixMilliseconds: Int64(now * 1000), protobuf: Data(protobuf), episodes: rollout.episodes)))
        }
    }

    /// Sends new or changed message rows to the store (messages before labels, for the foreign key).
    private func flushMessages(_ writer: StoreWriter) {
        for id in registry.takeDirty() {
            guard let entry = registry.entry(id) else { continue }
            writer.submit(.message(id: id, text: entry.text, count: entry.count, firstSeenEnvSteps: entry.firstSeenEnvSteps))
        }
    }

    // MARK: Annotation

    private func sendAnnotationRequests(_ socket: MessageSocket) {
        annotation.expire(now: now)
        while let next = annotation.nextRequest(now: now) {
            var request = Oni_V1_AnnotationRequest()
            request.requestID = next.requestID
            request.goal = config.goal
            request.items = next.ids.compactMap { id in
                registry.entry(id).map { AnnotationItem(messageID: id, text: $0.text).wire }
            }
            let sent = (try? socket.send(.annotationRequest(request), dontWait: true)) ?? false
            if sent {
                counters["annotation/requests_sent", default: 0] += 1
            } else {
                // No annotator connected (ZMQ_IMMEDIATE): keep the messages waiting.
                annotation.unsent(next.requestID)
                break
            }
        }
    }

    private func handleReply(_ reply: Oni_V1_AnnotationReply, writer: StoreWriter, socket: MessageSocket) {
        if !annotation.answered(reply.requestID) {
            counters["annotation/late_replies", default: 0] += 1
        }
        counters["annotation/replies", default: 0] += 1
        flushMessages(writer)
        let stamp = Int64(now * 1000)
        for wire in reply.results {
            let result: AnnotationResult
            do {
                result = try AnnotationResult(wire: wire)
            } catch {
                socket.refuse(.invalidPayload(kind: .annotationReply, reason: error.reason), detail: reply.annotatorID)
                continue
            }
            guard registry.entry(result.messageID) != nil else {
                counters["annotation/unknown_messages", default: 0] += 1
                continue
            }
            writer.submit(.label(result, unixMilliseconds: stamp))
            switch result.outcome {
            case let .labelled(value, _):
                if registry.entry(result.messageID)?.label == nil { registry.setLabel(result.messageID, value) }
            case .unparseable:
                counters["annotation/unparseable", default: 0] += 1
            case .backendError:
                counters["annotation/backend_errors", default: 0] += 1
                // The server failed, not the model: ask again later.
                annotation.enqueue(result.messageID)
            }
        }
    }

    // MARK: Metrics

    private func snapshot(writer: StoreWriter, sockets: [MessageSocket]) -> Oni_V1_Metrics {
        let t = now
        var values = counters
        values["env/steps"] = Double(envSteps)
        values["env/fps"] = fps
        values["env/episodes"] = Double(episodes)
        if let mean = returns.mean { values["env/episode_return"] = mean }
        if let mean = lengths.mean { values["env/episode_length"] = mean }
        if let mean = successes.mean { values["env/success_rate"] = mean }
        values["messages/distinct"] = Double(registry.count)
        values["messages/labelled"] = Double(registry.labelledCount)
        values["messages/positive"] = Double(registry.positiveCount)
        values["annotation/enabled"] = config.annotatorEndpoint == nil ? 0 : 1
        values["annotation/pending"] = Double(annotation.pendingCount)
        values["annotation/waiting"] = Double(annotation.waitingCount)
        values["annotation/timeouts"] = Double(annotation.timedOutRequests)
        values["learner/rollouts"] = Double(rollouts)
        values["learner/frames_refused"] = Double(sockets.map { $0.counters.refusedTotal }.reduce(0, +))
        values["learner/uptime_s"] = Date().timeIntervalSince(startTime)
        let store = writer.currentStats
        values["store/pending"] = Double(store.pending)
        values["store/written"] = Double(store.written)
        values["store/stalls"] = Double(store.stalls)
        values["store/failed_batches"] = Double(store.failedBatches)
        let live = liveness.alive(now: t, role: "worker")
        values["workers/live"] = Double(live.count)
        values["workers/known"] = Double(liveness.peers.values.filter { $0.role == "worker" }.count)
        var m = Oni_V1_Metrics()
        m.unixMs = Int64(t * 1000)
        m.envSteps = envSteps
        m.values = values
        m.liveWorkers = live.map(\.id)
        return m
    }
}
