import Foundation
import Logging
import OniCore
import OniEnvironments
import OniLearning
import OniNeural
import OniTransport
import OniWire
import Synchronization

/// A rollout worker: steps B environments, picks actions with its current
/// policy, and sends a Rollout to the learner every T steps.
///
/// Until a policy is available (the learner publishes Params this build's
/// worker can load) actions are uniform random and `policy_version` is -1.
public final class Worker {
    public let config: WorkerConfig
    private let logger: Logger
    private let stop: StopSignal
    private let transport: any Transport
    /// The B environments, each made anew when it fails.
    private let environments: [EnvironmentSlot]
    /// The environments split into `config.threads` groups, each stepped with its own policy copy
    /// and random generator on its own thread.
    private let groups: [EnvironmentGroup]

    /// Figures the worker reports in heartbeats and its log.
    public private(set) var envSteps: UInt64 = 0
    public private(set) var rolloutsSent: UInt64 = 0
    public private(set) var paramsRefused = 0
    /// Environment instances that failed and were made anew.
    public private(set) var envFailures = 0
    /// How many fresh instances a reset tries before the worker gives up (and stops with the error).
    public static let resetAttempts = EnvironmentSlot.resetAttempts
    /// Every `--record-every`-th episode of the first environment, recorded (nil when off).
    let recording: WorkerRecording?
    /// When this process (this incarnation of the worker) started; sent with every rollout.
    let startedUnixMilliseconds = UInt64(Date().timeIntervalSince1970 * 1000)
    /// Params of another run ignored (see `WorkerConfig.runID`).
    public private(set) var foreignParams = 0
    /// Params version in use; -1 while acting uniformly at random.
    public var policyVersion: Int64 { groups[0].policy.version }

    /// Environments `range` of the worker, their acting policy (a copy of the network per group)
    /// and the generator that draws their episode seeds and actions.
    final class EnvironmentGroup: @unchecked Sendable {
        let range: Range<Int>
        let policy: ActingPolicy
        var rng: SeededGenerator

        init(range: Range<Int>, environment: any Environment, rng: SeededGenerator) {
            self.range = range
            policy = ActingPolicy(environment: environment, envs: range.count)
            self.rng = rng
        }
    }

    /// `makeEnvironment` makes each of the B environments (and their replacements after a fault)
    /// from the configured name.
    public init(
        config: WorkerConfig, transport: any Transport, stop: StopSignal, logger: Logger,
        makeEnvironment: @escaping @Sendable (String) throws -> any Environment = { try EnvironmentFactory.make(name: $0) }
    ) throws {
        guard config.numEnvs > 0, config.rolloutLength > 0, (1...config.numEnvs).contains(config.threads) else {
            throw RuntimeError.invalidConfiguration("num-envs and rollout-length must be positive, threads in 1…num-envs")
        }
        self.config = config
        self.logger = logger
        self.stop = stop
        self.transport = transport
        let name = config.env
        environments = try (0..<config.numEnvs).map { _ in try EnvironmentSlot(make: { try makeEnvironment(name) }, logger: logger) }
        if config.recordEvery > 0 {
            guard let directory = config.recordDirectory else { throw RuntimeError.invalidConfiguration("--record-every needs --record-dir") }
            recording = try WorkerRecording(
                every: config.recordEvery, directory: directory, workerID: config.id, environment: environments[0].environment)
        } else {
            recording = nil
        }
        var seeder = SeededGenerator(seed: config.seed)
        for byte in config.id.utf8 { seeder = SeededGenerator(seed: seeder.next() ^ UInt64(byte)) }
        // One group keeps the worker's own generator (runs as before threads existed); more
        // groups each get one drawn from it in order, so the same thread count replays the same run.
        let count = config.threads, b = config.numEnvs
        let ranges = (0..<count).map { (($0 * b) / count)..<((($0 + 1) * b) / count) }
        let first = environments[0].environment
        var made: [EnvironmentGroup] = []
        for range in ranges {
            made.append(EnvironmentGroup(range: range, environment: first, rng: count == 1 ? seeder : SeededGenerator(seed: seeder.next())))
        }
        groups = made
    }

    /// Runs until stopped (signal or `maxEnvSteps`).
    public func run() throws {
        let codec = FrameCodec(maxFrameBytes: config.maxFrameBytes)
        // Few rollouts in flight: a worker must not run far ahead of the policy it is sent. On
        // closing, rollouts already queued get a moment to reach the learner.
        let experience = try MessageChannel(
            transport: transport, type: .push, .connect(config.experienceEndpoint),
            options: ChannelOptions(
                sendHighWaterMark: config.sendQueueRollouts, sendTimeoutMilliseconds: 200, lingerMilliseconds: 2000,
                reconnectMilliseconds: (100, 2000), sendBufferBytes: 64 << 10),
            name: "experience", accepts: [], codec: codec, logger: logger)
        let params = try MessageChannel(
            transport: transport, type: .sub, .connect(config.paramsEndpoint), options: ChannelOptions(conflate: true),
            name: "params", accepts: [.params], codec: codec, logger: logger)
        defer {
            experience.close()
            params.close()
        }

        let fields = environments[0].environment.observationFields
        let b = config.numEnvs, t = config.rolloutLength
        var episodeSeeds = [UInt64](repeating: 0, count: b)
        var episodeIDs = [UInt64](repeating: 0, count: b)
        var nextEpisodeID: UInt64 = 0
        var episodeReturns = [Double](repeating: 0, count: b)
        var episodeLengths = [Int](repeating: 0, count: b)
        var accounting = MessageAccounting(timing: config.messageTiming, empty: config.emptyMessages, environments: b)
        for group in groups {
            for i in group.range {
                episodeSeeds[i] = group.rng.next()
                episodeIDs[i] = nextEpisodeID
                nextEpisodeID += 1
                let opening = try environments[i].reset(seed: episodeSeeds[i])
                accounting.started(i, opening: opening)
                if i == 0 { recording?.episodeStarted(environments[0].environment, opening: opening) }
            }
        }

        var observationBuffers = fields.map { [UInt8](repeating: 0, count: (t + 1) * b * $0.byteCount) }
        var actions = [Int32](repeating: 0, count: t * b)
        var logProbs = [Float](repeating: 0, count: t * b)
        var values = [Float](repeating: 0, count: t * b)
        var outcomes = [StepOutcome](repeating: StepOutcome(reward: 0, done: false, success: false, message: ""), count: b)
        var finishedSeeds = [UInt64](repeating: 0, count: b)
        var rewards = [Float](repeating: 0, count: t * b)
        var dones = [UInt8](repeating: 0, count: t * b)
        var messageIndex = [Int32](repeating: -1, count: t * b)
        var messageCounts = [Int32](repeating: 0, count: t * b)
        let fieldIndex = (
            chars: fields.firstIndex { $0.name == "chars" }, status: fields.firstIndex { $0.name == "status" },
            message: fields.firstIndex { $0.name == "message" })

        logger.info(
            "worker started",
            metadata: ["env": "\(config.env)", "envs": "\(b)", "T": "\(t)", "threads": "\(groups.count)", "learner": "\(config.experienceEndpoint)"])
        sendHello(experience)
        var lastHeartbeat = Date()
        var sequence: UInt64 = 0

        while !stop.isStopped {
            var table: [String: Int32] = [:]
            var messages: [String] = []
            var episodes: [EpisodeSummary] = []
            let version = policyVersion
            let coreState = groups.flatMap(\.policy.state)
            var valued = true
            for step in 0..<t {
                // Each group observes, acts and steps its environments on its own thread…
                valued = try stepGroups(
                    fields, fieldIndex, &observationBuffers, row: step, &actions, &logProbs, &values, &outcomes, &episodeSeeds, &finishedSeeds)
                    && valued
                // …and what they saw is recorded in environment order, so the rollout does not depend on timing.
                for i in 0..<b {
                    let k = step * b + i
                    let outcome = outcomes[i]
                    rewards[k] = outcome.reward
                    dones[k] = outcome.done ? 1 : 0
                    if let (message, seen) = accounting.stepped(i, outcome, nextOpening: outcome.done ? environments[i].opening : nil) {
                        let index: Int32
                        if let known = table[message] {
                            index = known
                        } else {
                            index = Int32(messages.count)
                            table[message] = index
                            messages.append(message)
                        }
                        messageIndex[k] = index
                        messageCounts[k] = seen
                    } else {
                        messageIndex[k] = -1
                        messageCounts[k] = 0
                    }
                    episodeReturns[i] += Double(outcome.reward)
                    episodeLengths[i] += 1
                    if outcome.done {
                        episodes.append(
                            EpisodeSummary(
                                envIndex: i, episodeID: episodeIDs[i], episodeReturn: episodeReturns[i], length: episodeLengths[i],
                                success: outcome.success, endStep: step, seed: finishedSeeds[i], truncated: outcome.truncated))
                        episodeIDs[i] = nextEpisodeID
                        nextEpisodeID += 1
                        episodeReturns[i] = 0
                        episodeLengths[i] = 0
                    }
                }
            }
            writeObservations(fields, &observationBuffers, row: t, envs: 0..<b)
            envSteps += UInt64(t * b)

            var observations: [String: Tensor] = [:]
            for (f, field) in fields.enumerated() {
                observations[field.name] = Tensor(
                    elementType: field.elementType, shape: [t + 1, b] + field.shape, bytes: Data(observationBuffers[f]))
            }
            var rollout = Rollout(
                workerID: config.id, sequence: sequence, policyVersion: version, numSteps: t, numEnvs: b, envName: config.env,
                observations: observations, actions: actions, behaviourLogProbs: logProbs, rewards: rewards, dones: dones,
                messages: messages, messageIndex: messageIndex, messageEpisodeCount: messageCounts, episodes: episodes,
                workerEnvSteps: envSteps, coreState: coreState, behaviourValues: valued ? values : [])
            rollout.runID = config.runID
            rollout.workerStartedUnixMilliseconds = startedUnixMilliseconds
            rollout.envFailures = environments.reduce(0) { $0 + $1.takeFailures() }
            envFailures += rollout.envFailures
            sequence += 1
            if try sendPatiently(.rollout(rollout.wire), on: experience) { rolloutsSent += 1 }

            pollParams(params)
            if Date().timeIntervalSince(lastHeartbeat) >= config.heartbeatSeconds {
                sendHeartbeat(experience, framesRefused: experience.counters.refusedTotal + params.counters.refusedTotal)
                lastHeartbeat = Date()
            }
            if config.maxEnvSteps > 0 && envSteps >= config.maxEnvSteps {
                stop.stop(reason: "reached \(config.maxEnvSteps) env steps")
            }
        }
        logger.info("worker stopping", metadata: ["reason": "\(stop.stopReason ?? "")", "env_steps": "\(envSteps)", "rollouts": "\(rolloutsSent)", "env_failures": "\(envFailures)"])
    }

    /// One step of every environment at rollout row `row`: each group, on its own thread, writes
    /// its environments' observations, picks their actions in one batched forward pass, steps
    /// them and starts a new episode where one ended (the finished episode's seed is kept in
    /// `finishedSeeds`). False if the actions were chosen at random (no values).
    private func stepGroups(
        _ fields: [ObservationField], _ field: (chars: Int?, status: Int?, message: Int?), _ buffers: inout [[UInt8]], row: Int,
        _ actions: inout [Int32], _ logProbs: inout [Float], _ values: inout [Float], _ outcomes: inout [StepOutcome],
        _ episodeSeeds: inout [UInt64], _ finishedSeeds: inout [UInt64]
    ) throws -> Bool {
        let b = config.numEnvs
        for group in groups { writeObservations(fields, &buffers, row: row, envs: group.range) }
        var acted = [Bool](repeating: false, count: groups.count)
        // A group whose environment could not be made anew stops there; the worker then stops with its error.
        let errors = Mutex<[Int: any Error]>([:])
        let environments = self.environments, groups = self.groups
        /// This row's bytes of an observation field, for every environment.
        func withRow(_ field: Int?, _ body: (UnsafeRawBufferPointer?) -> Void) {
            guard let field else { return body(nil) }
            let size = fields[field].byteCount
            buffers[field].withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[(row * b * size)..<((row + 1) * b * size)])) }
        }
        withRow(field.chars) { chars in withRow(field.status) { status in withRow(field.message) { message in
        let views = UncheckedSendable((chars, status, message))
        // Each group writes only its own environments' elements of these.
        actions.withUnsafeMutableBufferPointer { actions in
            logProbs.withUnsafeMutableBufferPointer { logProbs in
                values.withUnsafeMutableBufferPointer { values in
                    outcomes.withUnsafeMutableBufferPointer { outcomes in
                        episodeSeeds.withUnsafeMutableBufferPointer { seeds in
                            finishedSeeds.withUnsafeMutableBufferPointer { finished in
                                acted.withUnsafeMutableBufferPointer { acted in
                                    let shared = UncheckedSendable((actions, logProbs, values, outcomes, seeds, finished, acted))
                                    Parallel.forEach(groups.count) { g in
                                        let (actions, logProbs, values, outcomes, seeds, finished, acted) = shared.value
                                        let group = groups[g], lo = group.range.lowerBound, n = group.range.count
                                        /// The group's environments' part of a row.
                                        func part<T>(_ row: UnsafeRawBufferPointer?, _: T.Type) -> UnsafeBufferPointer<T>? {
                                            guard let row else { return nil }
                                            let size = row.count / b
                                            return UnsafeRawBufferPointer(rebasing: row[(lo * size)..<((lo + n) * size)]).bindMemory(to: T.self)
                                        }
                                        let offset = row * b + lo
                                        acted[g] = group.policy.act(
                                            chars: part(views.value.0, UInt8.self), status: part(views.value.1, Int32.self),
                                            message: part(views.value.2, UInt8.self), rng: &group.rng,
                                            into: .init(
                                                actions: actions.baseAddress! + offset, logProbs: logProbs.baseAddress! + offset,
                                                values: values.baseAddress! + offset))
                                        do {
                                            for i in group.range {
                                                let outcome = try environments[i].step(Int(actions[row * b + i]))
                                                outcomes[i] = outcome
                                                if i == 0 && !outcome.truncated {  // after a fault the slot holds a new, unstarted game
                                                    recording?.stepped(environments[0].environment, action: Int(actions[row * b]), outcome: outcome)
                                                }
                                                if outcome.done {
                                                    finished[i] = seeds[i]
                                                    seeds[i] = group.rng.next()
                                                    let opening = try environments[i].reset(seed: seeds[i])
                                                    if i == 0 { recording?.episodeStarted(environments[0].environment, opening: opening) }
                                                    group.policy.clearState(env: i - lo)
                                                }
                                            }
                                        } catch {
                                            errors.withLock { $0[g] = error }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        } } }
        if let (_, error) = errors.withLock({ $0.min { $0.key < $1.key } }) { throw error }
        return acted.allSatisfy { $0 }
    }

    /// Writes the current observation of environments `envs` into rollout row `row`.
    private func writeObservations(_ fields: [ObservationField], _ buffers: inout [[UInt8]], row: Int, envs: Range<Int>) {
        let b = config.numEnvs
        for (f, field) in fields.enumerated() {
            let size = field.byteCount
            buffers[f].withUnsafeMutableBytes { raw in
                for i in envs {
                    let start = (row * b + i) * size
                    environments[i].environment.writeObservation(field: f, into: UnsafeMutableRawBufferPointer(rebasing: raw[start..<(start + size)]))
                }
            }
        }
    }

    /// Sends, waiting while the learner is away; false only when stopped first.
    private func sendPatiently(_ message: WireMessage, on socket: MessageChannel) throws -> Bool {
        var warned = false
        while !stop.isStopped {
            if try socket.send(message) {
                if warned { logger.info("learner reachable again; sending") }
                return true
            }
            if !warned {
                logger.warning("learner not accepting rollouts; waiting", metadata: ["endpoint": "\(config.experienceEndpoint)"])
                warned = true
                sendHello(socket)
            }
        }
        return false
    }

    /// Swaps in the newest Params, if any arrived (between rollouts only).
    private func pollParams(_ socket: MessageChannel) {
        // Take everything that arrived and keep the newest.
        var newest: Oni_V1_Params?
        while case let .params(params)? = try? socket.receive(timeoutMilliseconds: 0) {
            // Another run's learner (crossed ports): never act with its policy.
            if !config.runID.isEmpty && !params.runID.isEmpty && params.runID != config.runID {
                foreignParams += 1
                if foreignParams <= 3 || foreignParams % 100 == 0 {
                    logger.warning("params of another run ignored", metadata: ["its_run": "\(params.runID)", "this_run": "\(config.runID)"])
                }
                continue
            }
            if params.version > newest?.version ?? Int64.min { newest = params }
        }
        guard let params = newest else { return }
        let before = policyVersion
        do {
            for group in groups { try group.policy.load(params) }
            if before < 0 && policyVersion >= 0 {
                logger.info("acting with the learner's policy", metadata: ["version": "\(policyVersion)"])
            }
        } catch {
            // Counted with the channel's other refusals (frames_refused in heartbeats) and on its own.
            paramsRefused += 1
            socket.refuse(.invalidPayload(kind: .params, reason: "\(error)"), detail: "version \(params.version); keeping the current policy")
        }
    }

    private func sendHello(_ socket: MessageChannel) {
        var hello = Oni_V1_Hello()
        hello.role = "worker"
        hello.id = config.id
        hello.host = ProcessInfo.processInfo.hostName
        hello.pid = UInt32(getpid())
        hello.softwareVersion = OniVersion.current
        hello.startedUnixMs = Int64(startedUnixMilliseconds)
        hello.envName = config.env
        hello.numEnvs = UInt32(config.numEnvs)
        hello.runID = config.runID
        _ = try? socket.send(.hello(hello), dontWait: true)
    }

    private func sendHeartbeat(_ socket: MessageChannel, framesRefused: Int) {
        var beat = Oni_V1_Heartbeat()
        beat.role = "worker"
        beat.id = config.id
        beat.unixMs = Int64(Date().timeIntervalSince1970 * 1000)
        beat.envSteps = envSteps
        beat.policyVersion = policyVersion
        beat.rolloutsSent = rolloutsSent
        beat.framesRefused = UInt64(framesRefused)
        beat.stats = ["params_refused": Double(paramsRefused), "env_failures": Double(envFailures), "foreign_params": Double(foreignParams)]
        _ = try? socket.send(.heartbeat(beat), dontWait: true)
    }
}
