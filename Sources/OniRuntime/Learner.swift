import Foundation
import Logging
import OniAnnotation
import OniCore
import OniEnvironments
import OniLearning
import OniRewards
import OniStorage
import OniTelemetry
import OniTransport
import OniWire

/// The learner: receives rollouts, interns and counts their messages, stores
/// everything in the run directory, asks the annotator for labels of new
/// messages (never waiting for it) and publishes metrics.
public final class Learner {
    public let config: LearnerConfig
    let logger: Logger
    let stop: StopSignal
    let transport: any Transport

    var registry = MessageRegistry()
    /// Pairs of messages for the ranking reward (empty with other rewards).
    var pairs = PairTable()
    /// The annotator's own figures from its last heartbeat, shown as annotator/*.
    var annotatorFigures: [String: Double] = [:]
    var pairRNG = SeededGenerator(seed: 0x5EED_0FA1)
    /// Which messages and pairs wait for the annotator, and its answers.
    var annotation: AnnotationClient
    var liveness: LivenessTracker
    var counters: [String: Double] = [:]
    /// Steps, rollouts, episodes and which blobs the store keeps.
    var intake: ExperienceIntake
    public var envSteps: UInt64 { intake.envSteps }
    /// Environment steps per second over the last metrics interval.
    var fps = 0.0
    let started = ProcessInfo.processInfo.systemUptime
    /// Identifies this start of the learner in its Params.
    let learnerID = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(Int64(Date().timeIntervalSince1970 * 1000))"
    /// The run this learner serves (`RUN_DIR/run-id`, made at the run's first start).
    let runID: String
    /// The trainer on its own thread (nil when not training).
    var trainer: TrainerThread?
    /// The single-thread sgemm rate measured at start, which learner/gflops is compared with.
    var sgemmPeakGFLOPs = 0.0
    /// Where the loop's time went since the last metrics (seconds), and the trainer's progress then.
    var intakeSeconds = 0.0, publishSeconds = 0.0
    var progressAtLastMetrics = TrainerThread.Progress()
    var timeShares: [String: Double] = [:]
    /// The newest encoded Params, handed over by the trainer's thread.
    let paramsMailbox = ParamsMailbox()
    /// The version the reward model last heard of.
    var versionSeenByRewardModel: Int64 = -1
    var intrinsic: IntrinsicRewards
    var publishedVersion: Int64 = -1
    /// When checkpoints are written and which are kept (nil when not training).
    var checkpointer: Checkpointer?
    /// Evaluations during training (`--eval-every`), when asked for and training.
    var evaluation: PeriodicEvaluation?
    /// Serves the metrics to Prometheus (`--prometheus-bind`).
    var prometheus: MetricsHTTPServer?
    var lastPublished = -Double.infinity
    /// Every metrics snapshot goes to each of these: the PUB socket, the store, metrics.jsonl, TensorBoard.
    var metricsSinks: MetricsFanOut!

    public init(config: LearnerConfig, transport: any Transport, stop: StopSignal, logger: Logger) {
        self.config = config
        self.logger = logger
        self.stop = stop
        self.transport = transport
        let directory = URL(fileURLWithPath: config.runDirectory)
        runID = RunIdentity.saved(in: directory) ?? RunIdentity.make(for: directory)
        annotation = AnnotationClient(
            batchSize: config.llmBatchSize, maxInFlight: config.maxAnnotationRequestsInFlight, timeout: config.annotationTimeoutSeconds)
        liveness = LivenessTracker(timeout: config.livenessTimeoutSeconds)
        pairs = PairTable(pairsPerMessage: config.rankingPairsPerMessage, sampling: config.pairSampling)
        intrinsic = IntrinsicRewards(composition: config.reward, seed: config.seed, goalText: Goal(argument: config.goal).text)
        intake = ExperienceIntake(storeFraction: config.storeRolloutsFraction)
    }

    /// Monotonic seconds, for timeouts (immune to wall-clock steps).
    var now: Double { ProcessInfo.processInfo.systemUptime }
    /// Wall-clock milliseconds, for timestamps.
    var unixMilliseconds: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The learner's channels.
    struct Sockets {
        var experience: MessageChannel
        var params: MessageChannel
        var metrics: MessageChannel
        var control: MessageChannel
        var annotator: MessageChannel?

        var all: [MessageChannel] { [experience, params, metrics, control] + (annotator.map { [$0] } ?? []) }
        var framesRefused: Int { all.map { $0.counters.refusedTotal }.reduce(0, +) }
        /// Messages over the frame limit, not sent (Params of a network too large for --max-frame-bytes).
        var messagesTooLarge: Int { all.map { $0.counters.tooLarge }.reduce(0, +) }
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
        if RunIdentity.saved(in: runDirectory) != runID { try RunIdentity.save(runID, in: runDirectory) }
        let trainerCounters = try restore(storePath: storePath)
        try startRewardModel(runDirectory: runDirectory)
        let storeCap = StoreCap.resolve(megabytes: config.storeMaxMegabytes, runDirectory: runDirectory)
        let writer = try StoreWriter(path: storePath, maxBlobBytes: storeCap, logger: logger)
        logger.info("store", metadata: ["path": "\(storePath)", "rollouts": "\(StoreCap.describe(storeCap))"])
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
                sgemmPeakGFLOPs = SGEMMPeak.measure()
                logger.info(
                    "training",
                    metadata: [
                        "network": "\(architecture.signature)", "parameters": "\(appo.network.parameters.reduce(0) { $0 + $1.count })",
                        "reward": "\(intrinsic.formula)", "batch_samples": "\(config.batchSamples)", "learner_threads": "\(config.learnerThreads)",
                        "forward_mflop_per_row": "\(String(format: "%.2f", Double(architecture.forwardFLOPsPerRow) / 1e6))",
                        "sgemm_peak_gflops": "\(String(format: "%.1f", sgemmPeakGFLOPs))", "blas_kernel": "\(BLASKernel.current)",
                    ])
                try resumeTraining(appo, runDirectory: runDirectory)
                // Params are encoded on the trainer's thread right after the update that made them,
                // so the loop never waits for an update to publish.
                let mailbox = paramsMailbox, every = Int64(config.publishEveryUpdates), learnerID = self.learnerID, runID = self.runID
                mailbox.post(PolicyParams.encode(appo.network, version: appo.version, learnerEnvSteps: envSteps, learnerID: learnerID, runID: runID))
                let thread = TrainerThread(
                    trainer: appo, settings: .init(batchSamples: config.batchSamples, maxPolicyLag: config.maxPolicyLag)
                ) { trainer in
                    guard trainer.version % every == 0 else { return }
                    mailbox.post(PolicyParams.encode(trainer.network, version: trainer.version, learnerEnvSteps: mailbox.envSteps, learnerID: learnerID, runID: runID))
                }
                thread.resume(counters: trainerCounters)
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
        if let bind = config.prometheusBind {
            let sink = PrometheusSink(runID: runID)
            prometheus = try MetricsHTTPServer(address: bind) { sink.exposition() }
            metricsSinks.add(sink)
        }
        // Where this learner listens, for `oni run` and the tools (written once it does).
        try RunEndpoints(
            runID: runID, experience: RunEndpoints.connectable(sockets.experience.lastEndpoint()),
            params: RunEndpoints.connectable(sockets.params.lastEndpoint()),
            metrics: RunEndpoints.connectable(sockets.metrics.lastEndpoint()),
            control: RunEndpoints.connectable(sockets.control.lastEndpoint()), annotator: config.annotatorEndpoint,
            prometheus: prometheus.map { "http://\($0.host == "0.0.0.0" || $0.host == "*" ? "127.0.0.1" : $0.host):\($0.port)/metrics" }
        ).write(in: URL(fileURLWithPath: config.runDirectory))
        defer {
            // Whatever ends the loop, everything received so far reaches the disk.
            trainer?.stop()
            saveCheckpoint(last: true)
            flushMessages(writer)
            emitMetrics(sockets, writer: writer)
            writer.close()
            for socket in sockets.all { socket.close() }
            prometheus?.stop()
        }

        // Control and the annotator are always served; experience is added while the trainer has room.
        var polled = [sockets.control]
        if let annotator = sockets.annotator { polled.append(annotator) }
        var lastMetrics = now
        var lastAnnotatorPing = -Double.infinity
        var stepsAtLastMetrics = envSteps

        while !stop.isStopped {
            // Experience is taken in while the trainer has less than two batches queued: beyond
            // that the socket's queue, then the workers' sends, hold the rest (APPO's
            // back-pressure, which bounds the policy lag), and the loop only serves control and annotation.
            let full = (trainer?.queuedSamples ?? 0) >= 2 * config.batchSamples
            let listening = full ? polled : polled + [sockets.experience]
            let ready = try transport.readable(listening.map(\.channel), timeoutMilliseconds: full ? 2 : 20)
            let (controlReady, annotatorReady, experienceReady) = (ready[0], sockets.annotator != nil && ready[1], !full && ready.last!)
            if experienceReady {
                let start = now
                receiveExperience(sockets.experience, writer: writer, limit: 64, train: true)
                intakeSeconds += now - start
            }
            if controlReady, let parts = try sockets.control.channel.receiveMultipart(dontWait: true, maxParts: 8) {
                // REP must answer every request, even a refused one, or the socket stalls.
                _ = sockets.control.accept(parts)
                try sockets.control.send(.metrics(snapshot(sockets, writer: writer)))
            }
            if let annotator = sockets.annotator {
                if annotatorReady {
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
            if checkpointer?.due(now: now, envSteps: envSteps) == true { saveCheckpoint() }
            if let evaluation, let trainer {
                if evaluation.due(envSteps: envSteps) {
                    let (copy, version) = trainer.withTrainer { appo -> (PolicyNetwork<Float>, Int64) in
                        let copy = PolicyNetwork<Float>(architecture: appo.network.architecture, seed: 0)
                        copy.copyWeights(from: appo.network)
                        return (copy, appo.version)
                    }
                    evaluation.begin(network: copy, version: version, envSteps: envSteps)
                }
                if let metrics = evaluation.takeMetrics() { counters.merge(metrics) { $1 } }
            }
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

    func bind() throws -> Sockets {
        let codec = FrameCodec(maxFrameBytes: config.maxFrameBytes)
        func channel(_ type: SocketType, _ name: String, _ accepts: Set<MessageKind>, _ address: ChannelAddress, _ options: ChannelOptions = ChannelOptions()) throws -> MessageChannel {
            try MessageChannel(transport: transport, type: type, address, options: options, name: name, accepts: accepts, codec: codec, logger: logger)
        }
        // Few rollouts queued: with back-pressure reaching the workers, they wait for the
        // learner instead of running ahead of the policy (small policy lag).
        let experience = try channel(
            .pull, "experience", [.rollout, .hello, .heartbeat], .bind(config.experienceBind),
            ChannelOptions(receiveHighWaterMark: 2, receiveBufferBytes: 64 << 10))
        // Params go out often and are large: keep only the newest per subscriber, so a
        // slow worker gets the current policy next, not a backlog of stale ones.
        let params = try channel(.pub, "params", [], .bind(config.paramsBind), ChannelOptions(conflate: true))
        var sockets = Sockets(
            experience: experience, params: params,
            metrics: try channel(.pub, "metrics", [], .bind(config.metricsBind)),
            control: try channel(.rep, "control", [.statusRequest], .bind(config.controlBind)))
        if let endpoint = config.annotatorEndpoint {
            // Sends fail at once while no annotator is connected, so requests wait in our queue instead.
            sockets.annotator = try channel(
                .dealer, "annotator", [.annotationReply, .heartbeat], .connect(endpoint),
                ChannelOptions(immediate: true, reconnectMilliseconds: (100, 2000)))
        }
        let bound = try experience.lastEndpoint()
        if config.evalEvery > 0 && config.train {
            evaluation = PeriodicEvaluation(every: config.evalEvery, episodes: config.evalEpisodes, env: config.env, logger: logger)
            evaluation?.start(at: envSteps)
        }
        logger.info(
            "learner started",
            metadata: [
                "run": "\(config.runDirectory)", "run_id": "\(runID)", "experience": "\(bound)",
                "annotator": "\(config.annotatorEndpoint ?? "none (no annotation)")", "resumed_messages": "\(registry.count)",
                "resumed_env_steps": "\(envSteps)",
            ])
        return sockets
    }
}
