import OniWire

/// Everything a worker needs. The `oni-worker` flags map onto these fields.
public struct WorkerConfig: Sendable, Codable, Equatable {
    /// Stable id of this worker within the run (appears in metrics and the store).
    public var id = "worker-0"
    /// The run this worker belongs to (sent in Hello and rollouts; params of another run are
    /// ignored); empty = not checked.
    public var runID = ""
    /// Record every this-many-th episode of the first environment (0 = none) into `recordDirectory`.
    public var recordEvery = 0
    public var recordDirectory: String?
    /// Environment to play, e.g. "grid:keyroom".
    public var env = "grid:keyroom"
    /// Environments stepped together (B). More envs amortise inference; fewer lower latency.
    public var numEnvs = 16
    /// Threads the environments are split across, each stepping its share and running its
    /// inference with its own copy of the network. The same count replays the same run; one
    /// thread plays exactly as a worker did before threads existed.
    public var threads = 1
    /// Steps per environment in one rollout (T). ONI/Sample Factory use 32.
    public var rolloutLength = 32
    /// Which message a step is paid for, and whether empty messages count (`MessageAccounting`).
    public var messageTiming = MessageAccounting.Timing.after
    public var emptyMessages = MessageAccounting.EmptyMessages.skip
    /// Base seed. With the worker id it seeds one generator that draws every
    /// episode's seed and the random actions, so a worker's run is reproducible.
    public var seed: UInt64 = 1
    /// The learner's experience socket (PULL).
    public var experienceEndpoint = "tcp://127.0.0.1:5555"
    /// The learner's params socket (PUB).
    public var paramsEndpoint = "tcp://127.0.0.1:5556"
    /// Seconds between heartbeats.
    public var heartbeatSeconds = 2.0
    /// Largest frame accepted from the learner.
    public var maxFrameBytes = WireProtocol.defaultMaxFrameBytes
    /// Stop after this many environment steps (0 = run until stopped).
    public var maxEnvSteps: UInt64 = 0
    /// Rollouts queued for an absent or slow learner before sending waits. Small
    /// keeps the policy lag small: the worker waits for the learner instead of running ahead.
    public var sendQueueRollouts: Int32 = 1

    public init() {}
}
