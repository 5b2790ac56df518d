import Foundation
import Logging
import OniAnnotation
import OniCore
import OniStorage
import OniTransport
import OniWire
import Synchronization

/// The annotation server: takes AnnotationRequests on a ROUTER socket, labels
/// their messages with an LLM (several requests at once, newest first) and
/// sends each learner its AnnotationReply. It never blocks on the LLM: the
/// socket loop runs on its own thread, labelling runs in tasks.
public final class AnnotatorServer {
    public let config: AnnotatorConfig
    private let logger: Logger
    private let stop: StopSignal
    private let transport: any Transport
    /// Frames the request socket received and refused (malformed, oversized, wrong version or kind).
    public let frameCounters = FrameCounters()
    private let backend: any LLMBackend
    /// The backend labels are asked through: `backend`, named as the server names its model (see `run`).
    private var labelling: any LLMBackend
    private var labelers: [String: CheckedLabeler] = [:]
    private var cache: SQLiteLabelCache?

    private struct Queued {
        var peer: Data
        var request: Oni_V1_AnnotationRequest
        /// When the request arrived (seconds, monotonic), for its latency.
        var arrived: Double
    }

    private var queue: [Queued] = []
    private let outbox = Outbox()
    private var inFlight = 0
    private let started = AnnotatorServer.clock()
    /// Seconds from a request's arrival to its reply, last 1,024 requests.
    private var replyLatency = RollingWindow(capacity: 1024)
    /// LLM requests and the time at the previous heartbeat, for the rate since then.
    private var rateMark: (time: Double, llmRequests: Int) = (0, 0)

    private static func clock() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Counts for the log and tests.
    public struct Stats: Sendable, Equatable {
        public var requests = 0
        public var items = 0
        public var labelled = 0
        public var unparseable = 0
        /// Messages whose answers disagreed under `--label-check` (left unlabelled).
        public var disagreements = 0
        public var backendErrors = 0
        public var dropped = 0
        public var replies = 0
    }

    public private(set) var stats = Stats()

    /// `backend` defaults to an OpenAI-compatible client for `config.llm`.
    public init(config: AnnotatorConfig, transport: any Transport, stop: StopSignal, logger: Logger, backend: (any LLMBackend)? = nil) {
        self.config = config
        self.logger = logger
        self.stop = stop
        self.transport = transport
        self.backend = backend ?? OpenAICompatibleBackend(config: config.llm, logger: logger)
        labelling = self.backend
    }

    /// Runs until stopped; requests still being labelled then are abandoned
    /// (their learners re-send them after their timeout).
    public func run() throws {
        let socket = try MessageChannel(
            transport: transport, type: .router, .bind(config.bind), name: "requests", accepts: [.annotationRequest, .heartbeat],
            codec: FrameCodec(maxFrameBytes: config.maxFrameBytes), counters: frameCounters, logger: logger)
        defer { socket.close() }
        if let path = config.cachePath {
            do {
                cache = try SQLiteLabelCache(path: path)
            } catch {
                // Labelling goes on; only the saving across runs is lost.
                logger.error("label cache unusable; asking the LLM about every message", metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
        let bound = try socket.lastEndpoint()
        if let file = config.endpointFile {
            // For whoever started us on a port the system chose (`oni run`).
            try Data((RunEndpoints.connectable(bound) + "\n").utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
        }
        // Labels are recorded and cached under the model the server says it serves, so two servers
        // both called "default" never answer with each other's labels.
        if let reported = backend.reportedModel(), reported != backend.model { labelling = RenamedBackend(backend, model: reported) }
        logger.info(
            "annotator started",
            metadata: [
                "bind": "\(bound)", "llm": "\(config.llm.baseURL.absoluteString)", "model": "\(labelling.model)",
                "cache": "\(cache.map { "\($0.path) (\($0.count) labels)" } ?? "none")",
            ])

        var lastStats = Date()
        while !stop.isStopped {
            if try socket.channel.waitReadable(timeoutMilliseconds: 10) {
                while let routed = try socket.receiveRouted(timeoutMilliseconds: 0) {
                    if case .heartbeat = routed.message {
                        // A learner checking on us: answer with our own figures.
                        _ = try? socket.send(.heartbeat(heartbeat()), to: routed.peer, dontWait: true)
                        continue
                    }
                    guard case let .annotationRequest(request) = routed.message else { continue }
                    stats.requests += 1
                    stats.items += request.items.count
                    queue.append(Queued(peer: routed.peer, request: request, arrived: Self.clock()))
                    if queue.count > config.maxQueuedRequests {
                        // Tell the learner at once, so it retries after its backoff instead of its timeout.
                        let dropped = queue.removeFirst()
                        stats.dropped += 1
                        refuse(dropped, reason: "annotator queue full (\(config.maxQueuedRequests) requests)", on: socket)
                    }
                }
            }
            startLabelling()
            let finished = outbox.takeAll()
            for (peer, reply, arrived) in finished {
                if !reply.partial {
                    inFlight -= 1
                    replyLatency.append((Self.clock() - arrived) * 1000)
                }
                for result in reply.results {
                    switch result.status {
                    case .labelled: stats.labelled += 1
                    case .disagreed: stats.disagreements += 1
                    case .unparseable: stats.unparseable += 1
                    default: stats.backendErrors += 1
                    }
                }
                if try socket.send(.annotationReply(reply), to: peer, dontWait: true) {
                    stats.replies += 1
                } else {
                    logger.warning("could not send a reply; the learner will ask again", metadata: ["request": "\(reply.requestID)"])
                }
            }
            if Date().timeIntervalSince(lastStats) >= config.statsIntervalSeconds {
                lastStats = Date()
                logStats()
            }
        }
        logStats()
    }

    private func heartbeat() -> Oni_V1_Heartbeat {
        var beat = Oni_V1_Heartbeat()
        beat.role = "annotator"
        beat.id = config.id
        beat.unixMs = Int64(Date().timeIntervalSince1970 * 1000)
        beat.framesRefused = UInt64(frameCounters.refusedTotal)
        beat.stats = figures()
        return beat
    }

    /// The figures a learner shows as `annotator/*`: counts, queue depth, reply and LLM latency
    /// percentiles (ms), LLM requests per second since the previous call, the cache's hit rate.
    private func figures() -> [String: Double] {
        var values: [String: Double] = [
            "requests": Double(stats.requests), "items": Double(stats.items), "labelled": Double(stats.labelled),
            "unparseable": Double(stats.unparseable), "disagreements": Double(stats.disagreements), "backend_errors": Double(stats.backendErrors), "dropped": Double(stats.dropped),
            "queue_depth": Double(queue.count), "in_flight": Double(inFlight), "uptime_s": Self.clock() - started,
            "frames_refused": Double(frameCounters.refusedTotal),
        ]
        if let security = transport.securityCounters {
            values["curve_admitted"] = Double(security.admitted)
            values["curve_refused_keys"] = Double(security.refusedKeys)
            values["curve_failed_handshakes"] = Double(security.failedHandshakes)
        }
        for p in [50.0, 95, 99] {
            if let v = replyLatency.percentile(p) { values["reply_latency_ms_p\(Int(p))"] = v }
        }
        if let cache {
            let (hits, misses) = cache.lookups
            values["cache_hits"] = Double(hits)
            values["cache_misses"] = Double(misses)
            if hits + misses > 0 { values["cache_hit_rate"] = Double(hits) / Double(hits + misses) }
        }
        if let http = backend as? OpenAICompatibleBackend {
            let s = http.stats
            values["llm_requests"] = Double(s.requests)
            values["llm_retries"] = Double(s.retries)
            values["llm_failures"] = Double(s.failures)
            for p in [50.0, 95, 99] {
                if let v = s.recentLatencyMilliseconds.percentile(p) { values["llm_latency_ms_p\(Int(p))"] = v }
            }
            let now = Self.clock()
            if now - rateMark.time >= 1 {
                if rateMark.time > 0 { values["llm_requests_per_s"] = Double(s.requests - rateMark.llmRequests) / (now - rateMark.time) }
                rateMark = (now, s.requests)
            }
        }
        return values
    }

    /// The same figures a learner sees, in the log (with the cache's write failures).
    private func logStats() {
        var metadata: Logger.Metadata = [:]
        for (name, value) in figures() {
            metadata[name] = value == value.rounded() ? "\(Int(value))" : "\(String(format: "%.1f", value))"
        }
        if let cache { metadata["cache_write_failures"] = "\(cache.writeFailures)" }
        logger.info("annotator stats", metadata: metadata)
    }

    /// Answers every item of a request with a backend error, so the learner asks again later.
    private func refuse(_ queued: Queued, reason: String, on socket: MessageChannel) {
        var reply = Oni_V1_AnnotationReply()
        reply.requestID = queued.request.requestID
        reply.annotatorID = config.id
        reply.results = queued.request.items.map { item in
            AnnotationResult(messageID: item.messageID, outcome: .backendError(reason: reason), model: labelling.model, promptHash: "", reply: "").wire
        }
        _ = try? socket.send(.annotationReply(reply), to: queued.peer, dontWait: true)
    }

    /// Starts labelling queued requests, newest first, while slots are free.
    private func startLabelling() {
        while inFlight < config.maxConcurrentRequests, let next = queue.popLast() {
            inFlight += 1
            let labeler = labeler(for: next.request.goal)
            // Every item of a request is labelled, however many (ONI asks 100 at a time); the LLM
            // calls in flight are bounded by the backend's concurrency, not by the request's size.
            let items = next.request.items.map(AnnotationItem.init(wire:))
            let requestID = next.request.requestID
            let peer = next.peer
            let arrived = next.arrived
            let annotatorID = config.id
            let outbox = self.outbox
            // Parts only to a learner that takes them (one of an earlier version would take the
            // first part for the whole answer and never ask about the rest again).
            let every = next.request.acceptsPartial ? config.partialReplySeconds : 0
            let send: @Sendable ([AnnotationResult], Bool) -> Void = { results, partial in
                var reply = Oni_V1_AnnotationReply()
                reply.requestID = requestID
                reply.annotatorID = annotatorID
                reply.results = results.map(\.wire)
                reply.partial = partial
                outbox.append(peer: peer, reply: reply, arrived: arrived)
            }
            Task.detached { await labeler.label(items, partEvery: every, send: send) }
        }
    }

    private func labeler(for goal: String) -> CheckedLabeler {
        if let known = labelers[goal] { return known }
        // Goals come from peers: keep the table small.
        if labelers.count >= 16 { labelers.removeAll() }
        let labeler = CheckedLabeler(
            backend: labelling,
            prompt: AnnotationPrompt(
                goal: Goal(argument: goal.isEmpty ? "default" : goal), mode: config.labelMode, fewShot: config.fewShot, threshold: config.logprobThreshold,
                style: config.promptStyle, unit: config.labelUnit),
            cache: cache, pairJudge: config.pairJudge, check: config.labelCheck)
        labelers[goal] = labeler
        return labeler
    }
}

/// Replies finished by labelling tasks, waiting for the socket thread to send them.
private final class Outbox: Sendable {
    private let replies = Mutex<[(peer: Data, reply: Oni_V1_AnnotationReply, arrived: Double)]>([])

    func append(peer: Data, reply: Oni_V1_AnnotationReply, arrived: Double) {
        replies.withLock { $0.append((peer, reply, arrived)) }
    }

    func takeAll() -> [(peer: Data, reply: Oni_V1_AnnotationReply, arrived: Double)] {
        replies.withLock { box in
            let taken = box
            box.removeAll()
            return taken
        }
    }
}
