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
    private let context: ZMQContext
    private let backend: any LLMBackend
    private var labelers: [String: MessageLabeler] = [:]
    private var cache: SQLiteLabelCache?

    private struct Queued {
        var peer: Data
        var request: Oni_V1_AnnotationRequest
    }

    private var queue: [Queued] = []
    private let outbox = Outbox()
    private var inFlight = 0

    /// Counts for the log and tests.
    public struct Stats: Sendable, Equatable {
        public var requests = 0
        public var items = 0
        public var labelled = 0
        public var unparseable = 0
        public var backendErrors = 0
        public var dropped = 0
        public var replies = 0
    }

    public private(set) var stats = Stats()

    /// `backend` defaults to an OpenAI-compatible client for `config.llm`.
    public init(config: AnnotatorConfig, context: ZMQContext, stop: StopSignal, logger: Logger, backend: (any LLMBackend)? = nil) {
        self.config = config
        self.logger = logger
        self.stop = stop
        self.context = context
        self.backend = backend ?? OpenAICompatibleBackend(config: config.llm, logger: logger)
    }

    /// Runs until stopped; requests still being labelled then are abandoned
    /// (their learners re-send them after their timeout).
    public func run() throws {
        let socket = try MessageSocket(
            context: context, type: .router, name: "requests", accepts: [.annotationRequest, .heartbeat],
            codec: FrameCodec(maxFrameBytes: config.maxFrameBytes), logger: logger)
        try socket.socket.bind(config.bind)
        defer { socket.close() }
        if let path = config.cachePath {
            do {
                cache = try SQLiteLabelCache(path: path)
            } catch {
                // Labelling goes on; only the saving across runs is lost.
                logger.error("label cache unusable; asking the LLM about every message", metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
        let bound = try socket.socket.lastEndpoint()
        logger.info(
            "annotator started",
            metadata: [
                "bind": "\(bound)", "llm": "\(config.llm.baseURL.absoluteString)", "model": "\(backend.model)",
                "cache": "\(cache.map { "\($0.path) (\($0.count) labels)" } ?? "none")",
            ])

        var lastStats = Date()
        while !stop.isStopped {
            if try socket.socket.waitReadable(timeoutMilliseconds: 10) {
                while let routed = try socket.receiveRouted(timeoutMilliseconds: 0) {
                    if case .heartbeat = routed.message {
                        // A learner checking on us: answer with our own figures.
                        _ = try? socket.send(.heartbeat(heartbeat()), to: routed.peer, dontWait: true)
                        continue
                    }
                    guard case let .annotationRequest(request) = routed.message else { continue }
                    stats.requests += 1
                    stats.items += request.items.count
                    queue.append(Queued(peer: routed.peer, request: request))
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
            for (peer, reply) in finished {
                inFlight -= 1
                for result in reply.results {
                    switch result.status {
                    case .labelled: stats.labelled += 1
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
        beat.framesRefused = UInt64(stats.dropped)
        return beat
    }

    private func logStats() {
        var metadata: Logger.Metadata = [
            "requests": "\(stats.requests)", "items": "\(stats.items)", "labelled": "\(stats.labelled)",
            "unparseable": "\(stats.unparseable)", "backend_errors": "\(stats.backendErrors)", "dropped": "\(stats.dropped)",
            "queued": "\(queue.count)", "in_flight": "\(inFlight)",
        ]
        if let cache {
            let (hits, misses) = cache.lookups
            metadata["cache_hits"] = "\(hits)"
            metadata["cache_misses"] = "\(misses)"
            metadata["cache_write_failures"] = "\(cache.writeFailures)"
        }
        if let http = backend as? OpenAICompatibleBackend {
            let s = http.stats
            metadata["llm_requests"] = "\(s.requests)"
            metadata["llm_retries"] = "\(s.retries)"
            metadata["llm_mean_latency_ms"] = "\(Int(s.meanLatencyMilliseconds))"
        }
        logger.info("annotator stats", metadata: metadata)
    }

    /// Answers every item of a request with a backend error, so the learner asks again later.
    private func refuse(_ queued: Queued, reason: String, on socket: MessageSocket) {
        var reply = Oni_V1_AnnotationReply()
        reply.requestID = queued.request.requestID
        reply.annotatorID = config.id
        reply.results = queued.request.items.map { item in
            AnnotationResult(messageID: item.messageID, outcome: .backendError(reason: reason), model: backend.model, promptHash: "", reply: "").wire
        }
        _ = try? socket.send(.annotationReply(reply), to: queued.peer, dontWait: true)
    }

    /// Starts labelling queued requests, newest first, while slots are free.
    private func startLabelling() {
        while inFlight < config.maxConcurrentRequests, let next = queue.popLast() {
            inFlight += 1
            let labeler = labeler(for: next.request.goal)
            let limit = config.maxItemsPerRequest
            let items = next.request.items.prefix(limit).map(AnnotationItem.init(wire:))
            let excess = next.request.items.dropFirst(limit).map { item in
                AnnotationResult(
                    messageID: item.messageID, outcome: .backendError(reason: "request has more than \(limit) messages"),
                    model: backend.model, promptHash: "", reply: "")
            }
            let requestID = next.request.requestID
            let peer = next.peer
            let annotatorID = config.id
            let outbox = self.outbox
            Task.detached {
                let results = await labeler.label(Array(items)) + excess
                var reply = Oni_V1_AnnotationReply()
                reply.requestID = requestID
                reply.annotatorID = annotatorID
                reply.results = results.map(\.wire)
                outbox.append(peer: peer, reply: reply)
            }
        }
    }

    private func labeler(for goal: String) -> MessageLabeler {
        if let known = labelers[goal] { return known }
        // Goals come from peers: keep the table small.
        if labelers.count >= 16 { labelers.removeAll() }
        let labeler = MessageLabeler(backend: backend, prompt: AnnotationPrompt(goal: Goal(argument: goal.isEmpty ? "default" : goal)), cache: cache)
        labelers[goal] = labeler
        return labeler
    }
}

/// Replies finished by labelling tasks, waiting for the socket thread to send them.
private final class Outbox: Sendable {
    private let replies = Mutex<[(peer: Data, reply: Oni_V1_AnnotationReply)]>([])

    func append(peer: Data, reply: Oni_V1_AnnotationReply) {
        replies.withLock { $0.append((peer, reply)) }
    }

    func takeAll() -> [(peer: Data, reply: Oni_V1_AnnotationReply)] {
        replies.withLock { box in
            let taken = box
            box.removeAll()
            return taken
        }
    }
}
