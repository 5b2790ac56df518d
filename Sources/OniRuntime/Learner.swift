import Foundation
import Logging
import OniAnnotation
import OniCore
import OniEnvironments
import OniLearning
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
    /// Pairs of messages for the ranking reward (empty with other rewards).
    private var pairs = PairTable()
    /// The annotator's own figures from its last heartbeat, shown as annotator/*.
    private var annotatorFigures: [String: Double] = [:]
    private var pairRNG = SeededGenerator(seed: 0x5EED_0FA1)
    private var annotation: AnnotationQueue
    /// After a request found no annotator to take it, the next try waits until then: choosing
    /// a request scans every waiting message, too much to repeat on every turn of the loop.
    private var annotationRetryAt = -Double.infinity
    private var liveness: LivenessTracker
    private var counters: [String: Double] = [:]
    /// Steps, rollouts, episodes and which blobs the store keeps.
    private var intake: ExperienceIntake
    public var envSteps: UInt64 { intake.envSteps }
    /// Environment steps per second over the last metrics interval.
    private var fps = 0.0
    private let started = ProcessInfo.processInfo.systemUptime
    /// Identifies this start of the learner in its Params.
    private let learnerID = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(Int64(Date().timeIntervalSince1970 * 1000))"
    /// The trainer on its own thread (nil when not training).
    private var trainer: TrainerThread?
    /// The network's operations per trained sample and the sgemm peak measured at start, for learner/gflops.
    private var trainingFLOPsPerSample = 0.0
    private var sgemmPeakGFLOPs = 0.0
    /// Where the loop's time went since the last metrics (seconds), and the trainer's progress then.
    private var intakeSeconds = 0.0, publishSeconds = 0.0
    private var progressAtLastMetrics = TrainerThread.Progress()
    private var timeShares: [String: Double] = [:]
    /// The newest encoded Params, handed over by the trainer's thread.
    private let paramsMailbox = ParamsMailbox()
    /// The version the reward model last heard of.
    private var versionSeenByRewardModel: Int64 = -1
    private var intrinsic: IntrinsicRewards
    private var publishedVersion: Int64 = -1
    private var checkpoints: CheckpointStore?
    private var lastCheckpoint = 0.0
    private var lastPublished = -Double.infinity
    /// Every metrics snapshot goes to each of these: the PUB socket, the store, metrics.jsonl, TensorBoard.
    private var metricsSinks: MetricsFanOut!

    public init(config: LearnerConfig, context: ZMQContext, stop: StopSignal, logger: Logger) {
        self.config = config
        self.logger = logger
        self.stop = stop
        self.context = context
        annotation = AnnotationQueue(
            batchSize: config.llmBatchSize, maxInFlight: config.maxAnnotationRequestsInFlight, timeout: config.annotationTimeoutSeconds)
        liveness = LivenessTracker(timeout: config.livenessTimeoutSeconds)
        pairs = PairTable(pairsPerMessage: config.rankingPairsPerMessage)
        intrinsic = IntrinsicRewards(composition: config.reward, seed: config.seed, goalText: Goal(argument: config.goal).text)
        intake = ExperienceIntake(storeFraction: config.storeRolloutsFraction, storeMaxBytes: config.storeMaxRolloutBytes)
    }

    /// Monotonic seconds, for timeouts (immune to wall-clock steps).
    private var now: Double { ProcessInfo.processInfo.systemUptime }
    /// Wall-clock milliseconds, for timestamps.
    private var unixMilliseconds: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The learner's sockets.
    private struct Sockets {
        var experience: MessageSocket
        var params: MessageSocket
        var metrics: MessageSocket
        var control: MessageSocket
        var annotator: MessageSocket?

        var all: [MessageSocket] { [experience, params, metrics, control] + (annotator.map { [$0] } ?? []) }
        var framesRefused: Int { all.map { $0.counters.refusedTotal }.reduce(0, +) }
    }

    /// Runs until stopped (signal or `maxEnvSteps`), then drains the experience
    /// queue and flushes the store.
    public func run() throws {
        let runDirectory = URL(fileURLWithPath: config.runDirectory)
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        let storePath = runDirectory.appendingPathComponent(RunStore.fileName).path
        // Checked before anything is written to the directory.
        if !config.resume, let existing = try existingRun(storePath: storePath, runDirectory: runDirectory) {
            throw RuntimeError.invalidConfiguration(
                "\(config.runDirectory) already holds a run (\(existing)); pass --resume to continue it, or choose another --run-dir")
        }
        let lock = try RunDirectoryLock(runDirectory: runDirectory)
        defer { lock.release() }
        try restore(storePath: storePath)
        try startRewardModel(runDirectory: runDirectory)
        let writer = try StoreWriter(path: storePath, logger: logger)
        let jsonl = try JSONLinesMetricsSink(path: runDirectory.appendingPathComponent("metrics.jsonl").path)
        var tensorBoard: TensorBoardWriter?
        if config.tensorBoard {
            do {
                tensorBoard = try TensorBoardWriter(directory: runDirectory.appendingPathComponent("tb").path)
            } catch {
                logger.error("TensorBoard event file not created; going on without it", metadata: ["error": "\(error)"])
            }
        }
        if config.train {
            let environment = try EnvironmentFactory.make(name: config.env)
            if var architecture = PolicyArchitecture(environment: environment) {
                architecture.embedding = config.embedding
                architecture.filters = config.filters
                architecture.hidden = config.hidden
                architecture.messageFilters = config.messageFilters
                if let core = config.core { architecture.core = core }
                let appo = APPOTrainer(architecture: architecture, config: config.training, seed: config.seed, threads: config.learnerThreads)
                trainingFLOPsPerSample = architecture.trainingFLOPsPerSample(steps: 32)
                sgemmPeakGFLOPs = SGEMMPeak.measure()
                logger.info(
                    "training",
                    metadata: [
                        "network": "\(architecture.signature)", "parameters": "\(appo.network.parameters.reduce(0) { $0 + $1.count })",
                        "reward": "\(intrinsic.formula)", "batch_samples": "\(config.batchSamples)", "learner_threads": "\(config.learnerThreads)",
                        "mflop_per_sample": "\(String(format: "%.1f", trainingFLOPsPerSample / 1e6))",
                        "sgemm_peak_gflops": "\(String(format: "%.1f", sgemmPeakGFLOPs))", "blas_kernel": "\(BLASKernel.current)",
                    ])
                try resumeTraining(appo, runDirectory: runDirectory)
                // Params are encoded on the trainer's thread right after the update that made them,
                // so the loop never waits for an update to publish.
                let mailbox = paramsMailbox, every = Int64(config.publishEveryUpdates), learnerID = self.learnerID
                mailbox.post(PolicyParams.encode(appo.network, version: appo.version, learnerEnvSteps: envSteps, learnerID: learnerID))
                let thread = TrainerThread(
                    trainer: appo, settings: .init(batchSamples: config.batchSamples, maxPolicyLag: config.maxPolicyLag)
                ) { trainer in
                    guard trainer.version % every == 0 else { return }
                    mailbox.post(PolicyParams.encode(trainer.network, version: trainer.version, learnerEnvSteps: mailbox.envSteps, learnerID: learnerID))
                }
                thread.start()
                trainer = thread
                progressAtLastMetrics = thread.snapshot
            } else {
                logger.warning("environment has no map observation; recording without training", metadata: ["env": "\(config.env)"])
            }
        }
        let sockets = try bind()
        let logger = self.logger
        metricsSinks = MetricsFanOut { sink, error, dropped in
            logger.error(
                dropped ? "metrics not written; no more to this sink this run" : "metrics not written",
                metadata: ["sink": "\(sink.name)", "error": "\(error)"])
        }
        metricsSinks.add(MetricsPublisher(sockets.metrics))
        metricsSinks.add(StoreMetricsSink(writer))
        metricsSinks.add(jsonl)
        if let tensorBoard { metricsSinks.add(tensorBoard, dropOnFailure: true) }
        defer {
            // Whatever ends the loop, everything received so far reaches the disk.
            trainer?.stop()
            saveCheckpoint()
            flushMessages(writer)
            emitMetrics(sockets, writer: writer)
            writer.close()
            for socket in sockets.all { socket.close() }
        }

        var polled = [sockets.control, sockets.experience]
        if let annotator = sockets.annotator { polled.append(annotator) }
        var lastMetrics = now
        var lastAnnotatorPing = -Double.infinity
        var stepsAtLastMetrics = envSteps

        while !stop.isStopped {
            // Experience is taken in while the trainer has less than two batches queued: beyond
            // that the socket's queue, then the workers' sends, hold the rest (APPO's
            // back-pressure, which bounds the policy lag), and the loop only serves control and annotation.
            let full = (trainer?.queuedSamples ?? 0) >= 2 * config.batchSamples
            let listening = full ? polled.enumerated().filter { $0.offset != 1 }.map(\.element) : polled
            var ready = try Poller.readable(listening.map(\.socket), timeoutMilliseconds: full ? 2 : 20)
            if full { ready.insert(false, at: 1) }
            if ready[1] {
                let start = now
                receiveExperience(sockets.experience, writer: writer, limit: 64, train: true)
                intakeSeconds += now - start
            }
            if ready[0], let parts = try sockets.control.socket.receiveMultipart(dontWait: true) {
                // REP must answer every request, even a refused one, or the socket stalls.
                _ = sockets.control.accept(parts)
                try sockets.control.send(.metrics(snapshot(sockets, writer: writer)))
            }
            if let annotator = sockets.annotator {
                if ready[2] {
                    while let message = try annotator.receive(timeoutMilliseconds: 0) {
                        switch message {
                        case let .annotationReply(reply): handleReply(reply, writer: writer, socket: annotator)
                        case let .heartbeat(beat):
                            heard(beat.id, role: "annotator")
                            annotatorFigures = beat.stats
                        default: break
                        }
                    }
                }
                sendAnnotationRequests(annotator)
                if now - lastAnnotatorPing >= config.livenessTimeoutSeconds / 3 {
                    // The annotator answers with a Heartbeat: that is how we know it is alive.
                    lastAnnotatorPing = now
                    var ping = Oni_V1_Heartbeat()
                    ping.role = "learner"
                    ping.id = "learner"
                    ping.unixMs = unixMilliseconds
                    ping.envSteps = envSteps
                    _ = try? annotator.send(.heartbeat(ping), dontWait: true)
                }
            }
            if let trainer {
                let version = trainer.version
                if version != versionSeenByRewardModel {
                    versionSeenByRewardModel = version
                    intrinsic.afterUpdate(registry: registry, pairs: pairs, updates: version)
                }
            }
            let publishStart = now
            publishParams(sockets.params)
            publishSeconds += now - publishStart
            if now - lastCheckpoint >= config.checkpointIntervalSeconds { saveCheckpoint() }
            let t = now
            if t - lastMetrics >= config.metricsIntervalSeconds {
                fps = Double(envSteps - stepsAtLastMetrics) / (t - lastMetrics)
                measureTimeShares(interval: t - lastMetrics)
                stepsAtLastMetrics = envSteps
                lastMetrics = t
                flushMessages(writer)
                emitMetrics(sockets, writer: writer)
            }
            if config.maxEnvSteps > 0 && envSteps >= config.maxEnvSteps {
                stop.stop(reason: "reached \(config.maxEnvSteps) env steps")
            }
        }
        // Rollouts already queued in the socket were sent in good faith: keep them.
        receiveExperience(sockets.experience, writer: writer, limit: Int.max, train: false)
        logger.info(
            "learner stopped",
            metadata: [
                "reason": "\(stop.stopReason ?? "")", "env_steps": "\(envSteps)", "messages": "\(registry.count)",
                "labelled": "\(registry.labelledCount)",
            ])
    }

    private func bind() throws -> Sockets {
        let codec = FrameCodec(maxFrameBytes: config.maxFrameBytes)
        /// Options must be set before bind: libzmq copies them into the listener.
        func socket(
            _ type: SocketType, _ name: String, _ accepts: Set<MessageKind>, bind endpoint: String,
            configure: (ZMQSocket) throws -> Void = { _ in }
        ) throws -> MessageSocket {
            let s = try MessageSocket(context: context, type: type, name: name, accepts: accepts, codec: codec, logger: logger)
            try configure(s.socket)
            try s.socket.bind(endpoint)
            return s
        }
        // Few rollouts queued: with back-pressure reaching the workers, they wait for the
        // learner instead of running ahead of the policy (small policy lag).
        let experience = try socket(.pull, "experience", [.rollout, .hello, .heartbeat], bind: config.experienceBind) {
            try $0.setReceiveHighWaterMark(2)
            try $0.setReceiveBuffer(bytes: 64 << 10)
        }
        // Params go out often and are large: keep only the newest per subscriber, so a
        // slow worker gets the current policy next, not a backlog of stale ones.
        let params = try socket(.pub, "params", [], bind: config.paramsBind) { try $0.setConflate(true) }
        var sockets = Sockets(
            experience: experience, params: params,
            metrics: try socket(.pub, "metrics", [], bind: config.metricsBind),
            control: try socket(.rep, "control", [.statusRequest], bind: config.controlBind))
        if let endpoint = config.annotatorEndpoint {
            let annotator = try MessageSocket(
                context: context, type: .dealer, name: "annotator", accepts: [.annotationReply, .heartbeat], codec: codec, logger: logger)
            // Sends fail at once while no annotator is connected, so requests wait in our queue instead.
            try annotator.socket.setImmediate(true)
            try annotator.socket.setReconnectInterval(milliseconds: 100, max: 2000)
            try annotator.socket.connect(endpoint)
            sockets.annotator = annotator
        }
        let bound = try experience.socket.lastEndpoint()
        logger.info(
            "learner started",
            metadata: [
                "run": "\(config.runDirectory)", "experience": "\(bound)",
                "annotator": "\(config.annotatorEndpoint ?? "none (no annotation)")", "resumed_messages": "\(registry.count)",
                "resumed_env_steps": "\(envSteps)",
            ])
        return sockets
    }

    // MARK: Restore

    /// What the run directory already holds, if anything worth resuming.
    private func existingRun(storePath: String, runDirectory: URL) throws -> String? {
        var found: [String] = []
        if FileManager.default.fileExists(atPath: storePath) {
            let store = try RunStore(path: storePath, readOnly: true)
            defer { store.close() }
            let steps = try store.lastLearnerEnvSteps(), rollouts = try store.count(.rollouts), messages = try store.count(.messages)
            if steps > 0 || rollouts > 0 || messages > 0 { found.append("\(steps) env steps, \(messages) messages") }
        }
        if FileManager.default.fileExists(atPath: CheckpointStore(runDirectory: runDirectory).latest.path) { found.append("a policy checkpoint") }
        return found.isEmpty ? nil : found.joined(separator: ", ")
    }

    private func restore(storePath: String) throws {
        guard FileManager.default.fileExists(atPath: storePath) else { return }
        let store = try RunStore(path: storePath)
        defer { store.close() }
        for row in try store.messages() {
            registry.restore(id: row.id, text: row.text, count: row.count, firstSeenEnvSteps: row.firstSeenEnvSteps, label: row.label)
            if !row.settled && config.annotatorEndpoint != nil && !ranking { annotation.enqueue(row.id) }
        }
        for row in try store.pairs() {
            let id = PairTable.idBase + row.id
            pairs.restore(id: id, PairTable.Pair(first: row.firstID, second: row.secondID, createdEnvSteps: row.createdEnvSteps, preference: row.preference))
            if !row.settled && config.annotatorEndpoint != nil && ranking { annotation.enqueue(id) }
        }
        intake.resume(
            envSteps: try store.lastLearnerEnvSteps(), episodes: UInt64(try store.count(.episodes)),
            storedBytes: try store.database.scalarInt("SELECT coalesce(sum(length(protobuf)), 0) FROM rollouts") ?? 0)
        _ = registry.takeDirty()
    }

    // MARK: Experience

    /// Takes up to `limit` frames from the experience socket without waiting.
    /// With `train`, each rollout also gets an APPO update.
    private func receiveExperience(_ socket: MessageSocket, writer: StoreWriter, limit: Int, train: Bool) {
        var taken = 0
        while taken < limit, let received = (try? socket.receiveRouted(timeoutMilliseconds: 0)) ?? nil {
            taken += 1
            switch received.message {
            case let .hello(hello):
                heard(hello.id, role: hello.role, detail: "host \(hello.host) pid \(hello.pid) env \(hello.envName)")
                // A new worker plays at random until it has Params: publish now (it may not have
                // subscribed yet; the 2 s republish covers that).
                lastPublished = -Double.infinity
            case let .heartbeat(beat):
                heard(beat.id, role: beat.role, envSteps: beat.envSteps, policyVersion: beat.policyVersion)
            case let .rollout(wire):
                do {
                    let rollout = try Rollout(wire: wire)
                    ingest(rollout, protobuf: received.frame.dropFirst(WireProtocol.headerSize), writer: writer)
                    if train { self.train(on: rollout) }
                } catch {
                    socket.refuse(.invalidPayload(kind: .rollout, reason: error.reason), detail: wire.workerID)
                }
            default:
                break
            }
        }
    }

    private func heard(_ id: String, role: String, envSteps: UInt64? = nil, policyVersion: Int64? = nil, detail: String = "") {
        if liveness.heard(id: id, role: role, now: now, envSteps: envSteps, policyVersion: policyVersion) {
            logger.info("\(role) alive", metadata: ["id": "\(id)", "detail": "\(detail)"])
        }
    }

    private func ingest(_ rollout: Rollout, protobuf: Data, writer: StoreWriter) {
        heard(rollout.workerID, role: rollout.replay ? "replay" : "worker", envSteps: rollout.workerEnvSteps, policyVersion: rollout.policyVersion)
        let taken = intake.take(
            rollout, protobuf: Data(protobuf), bytes: protobuf.count, registry: &registry, receivedUnixMilliseconds: unixMilliseconds)
        if config.annotatorEndpoint != nil {
            for id in taken.newMessages {
                if ranking {
                    // Ranking asks the LLM to compare pairs, not to label messages.
                    for pair in pairs.propose(for: id, among: Array(registry.entries.keys).sorted(), envSteps: envSteps, rng: &pairRNG) {
                        annotation.enqueue(pair)
                    }
                } else {
                    annotation.enqueue(id)
                }
            }
        }
        if !writer.submit(.rollout(taken.stored)) {
            let dropped = writer.currentStats.droppedRollouts
            if dropped == 1 || dropped % 1000 == 0 {
                logger.warning("disk slower than experience: rollouts dropped from the store", metadata: ["dropped": "\(dropped)"])
            }
        }
    }

    // MARK: Training

    /// Loads the newest usable checkpoint of the run directory, if any.
    private func resumeTraining(_ trainer: APPOTrainer, runDirectory: URL) throws {
        let store = CheckpointStore(runDirectory: runDirectory)
        checkpoints = store
        lastCheckpoint = now
        switch store.load(into: trainer) {
        case .none:
            break
        case let .loaded(metadata, skipped):
            for problem in skipped { logger.error("checkpoint skipped; using the previous one", metadata: ["problem": "\(problem)"]) }
            logger.info("resumed training", metadata: ["version": "\(metadata.version)", "checkpoint_env_steps": "\(metadata.envSteps)"])
        case let .unusable(problems):
            for problem in problems { logger.error("checkpoint unusable", metadata: ["problem": "\(problem)"]) }
            // Resuming means continuing this policy: silently starting afresh would mislead.
            throw RuntimeError.invalidConfiguration(
                "--resume: no usable checkpoint in \(store.directory.path) (\(problems.map(\.description).joined(separator: "; ")))")
        }
    }

    /// Where the reward model's weights are kept beside the policy.
    static func rewardModelCheckpoint(_ runDirectory: URL) -> String {
        runDirectory.appendingPathComponent("checkpoints/reward_model.safetensors").path
    }

    /// The reward model starts from the run's own checkpoint when resuming, else from --reward-init.
    private func startRewardModel(runDirectory: URL) throws {
        guard intrinsic.hasModel else { return }
        let own = Self.rewardModelCheckpoint(runDirectory)
        if config.resume, FileManager.default.fileExists(atPath: own) {
            do {
                let version = try intrinsic.loadModel(from: own)
                logger.info("reward model resumed", metadata: ["path": "\(own)", "version": "\(version)"])
                return
            } catch {
                // The labels and pairs are in the store: the model is retrained from them.
                logger.error("reward model checkpoint unusable; retraining from the stored labels", metadata: ["error": "\(error)"])
            }
        }
        if let path = config.rewardInit {
            do {
                let version = try intrinsic.loadModel(from: path)
                logger.info("reward model starts from a fitted one", metadata: ["path": "\(path)", "version": "\(version)"])
            } catch {
                throw RuntimeError.invalidConfiguration("--reward-init: \(error)")
            }
        }
    }

    private func saveCheckpoint() {
        guard let trainer, let checkpoints else { return }
        lastCheckpoint = now
        if intrinsic.hasModel {
            let logger = self.logger
            intrinsic.saveModel(to: Self.rewardModelCheckpoint(checkpoints.directory.deletingLastPathComponent())) { error in
                if let error { logger.error("reward model not saved", metadata: ["error": "\(error)"]) }
            }
        }
        do {
            let envSteps = self.envSteps
            try trainer.withTrainer { try checkpoints.save($0, envSteps: envSteps) }
            counters["learner/checkpoints_saved", default: 0] += 1
        } catch {
            counters["learner/checkpoint_failures", default: 0] += 1
            logger.error("checkpoint not saved", metadata: ["error": "\(error)"])
        }
    }

    /// Hands a rollout, with its intrinsic reward composed, to the trainer.
    private func train(on rollout: Rollout) {
        guard let trainer else { return }
        guard rollout.envName == config.env else {
            counters["learner/rollouts_wrong_env", default: 0] += 1
            return
        }
        do {
            trainer.submit(
                try TrainingBatch(rollout: intrinsic.apply(to: rollout, registry: registry), architecture: trainer.architecture))
        } catch {
            counters["learner/rollouts_untrainable", default: 0] += 1
            logger.warning("rollout not trainable", metadata: ["worker": "\(rollout.workerID)", "error": "\(error)"])
        }
    }

    /// Publishes Params after every `publishEveryUpdates` updates, and every 2 s for workers that join late.
    private func publishParams(_ socket: MessageSocket) {
        guard trainer != nil else { return }
        paramsMailbox.envSteps = envSteps
        guard let params = paramsMailbox.newest, params.version > publishedVersion || now - lastPublished >= 2 else { return }
        _ = try? socket.send(.params(params), dontWait: true)
        publishedVersion = params.version
        lastPublished = now
    }

    /// Sends new or changed message rows to the store (messages before labels, for the foreign key).
    private func flushMessages(_ writer: StoreWriter) {
        for id in registry.takeDirty() {
            guard let entry = registry.entry(id) else { continue }
            writer.submit(.message(id: id, text: entry.text, count: entry.count, firstSeenEnvSteps: entry.firstSeenEnvSteps))
        }
        for (id, pair) in pairs.takeNew() {
            writer.submit(.pair(id: id - PairTable.idBase, firstID: pair.first, secondID: pair.second, createdEnvSteps: pair.createdEnvSteps))
        }
    }

    private var ranking: Bool { config.reward.type == .ranking }

    /// The annotation item for a queued id: a message without a label, or a pair without a judgement.
    private func annotationItem(_ id: UInt64) -> Oni_V1_AnnotationItem? {
        if PairTable.isPair(id) {
            guard let pair = pairs.pairs[id], pair.preference == nil, let first = registry.entry(pair.first), let second = registry.entry(pair.second)
            else { return nil }
            return AnnotationItem(messageID: id, text: first.text, secondText: second.text).wire
        }
        return registry.entry(id).flatMap { $0.label == nil ? AnnotationItem(messageID: id, text: $0.text).wire : nil }
    }

    // MARK: Annotation

    /// Which waiting item to ask about first: the most-seen message (a pair: its two messages' counts together).
    private func annotationPriority(_ id: UInt64) -> Int64 {
        guard PairTable.isPair(id) else { return registry.entry(id)?.count ?? 0 }
        guard let pair = pairs.pairs[id] else { return 0 }
        return (registry.entry(pair.first)?.count ?? 0) + (registry.entry(pair.second)?.count ?? 0)
    }

    private func sendAnnotationRequests(_ socket: MessageSocket) {
        annotation.expire(now: now)
        guard now >= annotationRetryAt else { return }
        while let next = annotation.nextRequest(now: now, priority: annotationPriority) {
            // A late reply may have labelled some of these meanwhile.
            let items = next.ids.compactMap(annotationItem)
            if items.isEmpty {
                annotation.answered(next.requestID)
                continue
            }
            var request = Oni_V1_AnnotationRequest()
            request.requestID = next.requestID
            request.goal = config.goal
            request.items = items
            if (try? socket.send(.annotationRequest(request), dontWait: true)) == true {
                counters["annotation/requests_sent", default: 0] += 1
            } else {
                // No annotator connected (ZMQ_IMMEDIATE): keep the messages waiting.
                annotation.unsent(next.requestID)
                annotationRetryAt = now + 0.25
                break
            }
        }
    }

    private func handleReply(_ reply: Oni_V1_AnnotationReply, writer: StoreWriter, socket: MessageSocket) {
        if !annotation.answered(reply.requestID, now: now) {
            counters["annotation/late_replies", default: 0] += 1
        }
        counters["annotation/replies", default: 0] += 1
        flushMessages(writer)
        let stamp = unixMilliseconds
        for wire in reply.results {
            let result: AnnotationResult
            do {
                result = try AnnotationResult(wire: wire)
            } catch {
                socket.refuse(.invalidPayload(kind: .annotationReply, reason: error.reason), detail: reply.annotatorID)
                continue
            }
            let isPair = PairTable.isPair(result.messageID)
            guard isPair ? pairs.pairs[result.messageID] != nil : registry.entry(result.messageID) != nil else {
                counters["annotation/unknown_messages", default: 0] += 1
                continue
            }
            // A message is only asked about while unlabelled, so a result for one labelled since is a
            // second answer to a re-sent request (the first annotator answered late, or twice): kept once.
            let labelled = isPair ? pairs.pairs[result.messageID]?.preference != nil : registry.entry(result.messageID)?.label != nil
            if labelled {
                counters["annotation/duplicate_results", default: 0] += 1
                continue
            }
            if isPair {
                var stored = result
                stored.messageID -= PairTable.idBase
                writer.submit(.pairLabel(stored, unixMilliseconds: stamp))
            } else {
                writer.submit(.label(result, unixMilliseconds: stamp))
            }
            switch result.outcome {
            case let .labelled(value, _) where isPair:
                guard (0...1).contains(value) else {
                    counters["annotation/unparseable", default: 0] += 1
                    continue
                }
                pairs.setPreference(result.messageID, value)
            case let .labelled(value, _):
                // The latest label wins, here and in the store's message_labels view.
                registry.setLabel(result.messageID, value)
            case .unparseable:
                counters["annotation/unparseable", default: 0] += 1
            case .backendError:
                // The server failed, not the model: ask again after a backoff.
                counters["annotation/backend_errors", default: 0] += 1
                annotation.failed(result.messageID, now: now)
            }
        }
    }

    // MARK: Metrics

    /// The share of the interval the loop spent taking in experience and publishing, the share
    /// the trainer spent updating and waiting for a batch, and what the updates achieved.
    private func measureTimeShares(interval: Double) {
        guard let trainer, interval > 0 else { return }
        let progress = trainer.snapshot, before = progressAtLastMetrics
        let updating = progress.updateSeconds - before.updateSeconds, samples = progress.samplesTrained - before.samplesTrained
        timeShares = [
            "learner/time_intake": intakeSeconds / interval, "learner/time_publishing": publishSeconds / interval,
            "learner/time_updating": updating / interval, "learner/time_waiting": (progress.waitSeconds - before.waitSeconds) / interval,
            "learner/samples_per_s": Double(samples) / interval,
        ]
        if updating > 0 && samples > 0 {
            let gflops = trainingFLOPsPerSample * Double(samples) / updating / 1e9
            timeShares["learner/gflops"] = gflops
            if sgemmPeakGFLOPs > 0 { timeShares["learner/sgemm_peak_fraction"] = gflops / sgemmPeakGFLOPs }
        }
        intakeSeconds = 0
        publishSeconds = 0
        progressAtLastMetrics = progress
    }

    private func emitMetrics(_ sockets: Sockets, writer: StoreWriter) {
        metricsSinks.write(snapshot(sockets, writer: writer))
    }

    private func snapshot(_ sockets: Sockets, writer: StoreWriter) -> Oni_V1_Metrics {
        var values = counters
        values.merge(intake.counters) { _, new in new }
        values["env/steps"] = Double(envSteps)
        values["env/fps"] = fps
        values["env/episodes"] = Double(intake.episodes)
        if let mean = intake.returns.mean { values["env/episode_return"] = mean }
        if let mean = intake.lengths.mean { values["env/episode_length"] = mean }
        if let mean = intake.successes.mean { values["env/success_rate"] = mean }
        values["messages/distinct"] = Double(registry.count)
        values["messages/labelled"] = Double(registry.labelledCount)
        values["messages/positive"] = Double(registry.positiveCount)
        if ranking {
            values["pairs/total"] = Double(pairs.count)
            values["pairs/judged"] = Double(pairs.judgedCount)
        }
        values["annotation/enabled"] = config.annotatorEndpoint == nil ? 0 : 1
        values["annotation/pending"] = Double(annotation.pendingCount)
        values["annotation/waiting"] = Double(annotation.waitingCount)
        values["annotation/timeouts"] = Double(annotation.timedOutRequests)
        values["annotation/abandoned"] = Double(annotation.abandoned)
        for p in [50.0, 95] {
            if let v = annotation.roundTripSeconds.percentile(p) { values["annotation/round_trip_ms_p\(Int(p))"] = v * 1000 }
        }
        for (name, value) in annotatorFigures where value.isFinite { values["annotator/" + name] = value }
        values["learner/rollouts"] = Double(intake.rollouts)
        if let trainer {
            let progress = trainer.snapshot
            values.merge(progress.stats) { _, new in new }
            values.merge(progress.counters) { _, new in new }
            values["learner/policy_version"] = Double(progress.version)
            values["learner/updates"] = Double(progress.updates)
            values["learner/samples_trained"] = Double(progress.samplesTrained)
            if let lag = progress.lags.mean { values["learner/policy_lag"] = lag }
            values["learner/update_ms"] = progress.lastTiming.total * 1000
            values["learner/queued_samples"] = Double(trainer.queuedSamples)
            values.merge(timeShares) { _, new in new }
            values.merge(intrinsic.metrics) { _, new in new }
        }
        values["learner/frames_refused"] = Double(sockets.framesRefused)
        if let security = context.securityCounters {
            values["security/admitted"] = Double(security.admitted)
            values["security/refused_keys"] = Double(security.refusedKeys)
            values["security/failed_handshakes"] = Double(security.failedHandshakes)
            values["security/refused_by_annotator"] = Double(security.refusedByServer)
        }
        values["learner/uptime_s"] = now - started
        let store = writer.currentStats
        values["store/pending"] = Double(store.pending)
        values["store/written"] = Double(store.written)
        values["store/rollouts_dropped"] = Double(store.droppedRollouts)
        values["store/records_dropped"] = Double(store.droppedRecords)
        values["store/failed_records"] = Double(store.failedRecords)
        let live = liveness.alive(now: now, role: "worker")
        values["workers/live"] = Double(live.count)
        values["workers/known"] = Double(liveness.peers.values.filter { $0.role == "worker" }.count)
        if config.annotatorEndpoint != nil {
            values["annotation/annotators_live"] = Double(liveness.alive(now: now, role: "annotator").count)
        }
        var m = Oni_V1_Metrics()
        m.unixMs = unixMilliseconds
        m.envSteps = envSteps
        m.values = values
        m.liveWorkers = live.map(\.id)
        return m
    }
}

/// The newest Params the trainer's thread encoded, and the env-step count they are stamped with.
final class ParamsMailbox: @unchecked Sendable {
    private let lock = NSLock()
    private var params: Oni_V1_Params?
    private var steps: UInt64 = 0

    func post(_ params: Oni_V1_Params) {
        lock.lock()
        self.params = params
        lock.unlock()
    }

    var newest: Oni_V1_Params? {
        lock.lock()
        defer { lock.unlock() }
        return params
    }

    var envSteps: UInt64 {
        get {
            lock.lock()
            defer { lock.unlock() }
            return steps
        }
        set {
            lock.lock()
            steps = newValue
            lock.unlock()
        }
    }
}
