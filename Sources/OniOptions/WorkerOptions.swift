import ArgumentParser
import OniRuntime

/// A worker's settings: everything but its id and the learner's endpoints.
public struct WorkerOptions: ParsableArguments, Sendable {
    @Option(help: "Environments each worker steps together (B).") public var envsPerWorker = WorkerConfig().numEnvs
    @Option(help: "Steps per environment in one rollout (T).") public var rolloutLength = WorkerConfig().rolloutLength
    @Option(help: "Threads a worker splits its environments across (each with its own copy of the network; at most --envs-per-worker).")
    public var workerThreads = WorkerConfig().threads
    @Option(help: "Which message a step's intrinsic reward is for: the one the step produced (after) or the one on screen when the agent acted (before, ONI's).")
    public var messageTiming = WorkerConfig().messageTiming
    @Option(help: "Steps with an empty message: pay for no message (skip) or count the empty message as one (count, ONI's).")
    public var emptyMessages = WorkerConfig().emptyMessages
    @Option(help: "Seconds between a worker's heartbeats.") public var heartbeatSeconds = WorkerConfig().heartbeatSeconds
    @Option(help: "Record every N-th episode of each worker's first environment (asciinema .cast, and ttyrec for NetHack; 0 = none). oni run writes them to RUN_DIR/recordings.")
    public var recordEvery = WorkerConfig().recordEvery

    public init() {}

    public func validate() throws {
        guard envsPerWorker > 0, rolloutLength > 0 else { throw ValidationError("--envs-per-worker and --rollout-length must be positive") }
        guard (1...envsPerWorker).contains(workerThreads) else { throw ValidationError("--worker-threads must be between 1 and --envs-per-worker") }
        guard heartbeatSeconds > 0 else { throw ValidationError("--heartbeat-seconds must be positive") }
        guard recordEvery >= 0 else { throw ValidationError("--record-every must be ≥ 0") }
    }

    public func apply(to config: inout WorkerConfig) {
        config.numEnvs = envsPerWorker
        config.rolloutLength = rolloutLength
        config.messageTiming = messageTiming
        config.emptyMessages = emptyMessages
        config.threads = workerThreads
        config.heartbeatSeconds = heartbeatSeconds
        config.recordEvery = recordEvery
    }
}
