import OniLearning
import OniRewards
import OniWire

/// Everything the learner needs. The `oni-learner` flags map onto these fields.
public struct LearnerConfig: Sendable, Codable, Equatable {
    /// Run directory: holds oni.sqlite, metrics.jsonl, checkpoints/ and the lock oni.lock.
    /// Created if missing.
    public var runDirectory = "runs/default"
    /// Continue the run in `runDirectory` (messages, labels, counters, policy, optimiser).
    /// Without it, a run directory that already holds a run is refused, so a typo
    /// never mixes two experiments; with it, an empty directory simply starts.
    public var resume = false
    /// With `resume`: a run that has env steps but no usable checkpoint (killed before its first)
    /// starts the policy afresh; without it such a resume is refused rather than silently
    /// training a new policy on an old run's counters.
    public var freshWeights = false
    /// Where workers send rollouts (PULL).
    public var experienceBind = "tcp://*:5555"
    /// Where params are published to workers (PUB).
    public var paramsBind = "tcp://*:5556"
    /// Where metrics are published (PUB), for `oni metrics --follow`.
    public var metricsBind = "tcp://*:5557"
    /// Control socket (REP): answers status requests with the current metrics.
    public var controlBind = "tcp://*:5558"
    /// Serve the metrics for Prometheus at http://HOST:PORT/metrics (port 0: the system chooses;
    /// the address is written to RUN_DIR/endpoints.json); nil = not served.
    public var prometheusBind: String? = nil
    /// The annotator's ROUTER socket; nil runs without annotation (no labels are asked for).
    public var annotatorEndpoint: String? = nil
    /// Goal the annotator judges messages against (default, combat, gold, stairs or free text).
    public var goal = "default"
    /// Messages per annotation request (ONI's llm_batch_size).
    public var llmBatchSize = 8
    /// Annotation requests in flight at once. More keeps a big LLM server busy; fewer keeps labels newest-first.
    public var maxAnnotationRequestsInFlight = 4
    /// Seconds before an unanswered annotation request is re-sent.
    public var annotationTimeoutSeconds = 120.0
    /// Seconds between metrics snapshots.
    public var metricsIntervalSeconds = 1.0
    /// Seconds of silence before a worker counts as dead.
    public var livenessTimeoutSeconds = 10.0
    /// Frames larger than this are refused.
    public var maxFrameBytes = WireProtocol.defaultMaxFrameBytes
    /// Stop after consuming this many environment steps (0 = run until stopped).
    public var maxEnvSteps: UInt64 = 0
    /// Write TensorBoard event files to RUN_DIR/tb.
    public var tensorBoard = true
    /// Of the rollouts received, the fraction whose blobs are kept in the store for replay
    /// (evenly spread; 0 keeps none; episodes, messages, labels and metrics are always kept).
    public var storeRolloutsFraction = 1.0
    /// The cap on the bytes rollout blobs take in the store, in MiB, beyond which the oldest are
    /// thinned: -1 = automatic (`StoreCap.automatic`), 0 = none.
    public var storeMaxMegabytes = -1
    /// The environment the workers play; it fixes the policy network's shape.
    public var env = "grid:keyroom"
    /// Train the policy (off: record and label only).
    public var train = true
    /// APPO hyper-parameters.
    public var training = TrainingConfig()
    /// How extrinsic and LLM-derived intrinsic reward combine (ONI's reward_type and coefficients).
    public var reward = RewardComposition()
    /// Weights the classification or ranking model starts from (`oni replay fit-reward`'s file);
    /// a resumed run's own checkpoint wins over it.
    public var rewardInit: String? = nil
    /// Pairs each new message is put in when the reward is `ranking`.
    public var rankingPairsPerMessage = 4
    /// How their partners are drawn.
    public var pairSampling = PairSampling.uniform
    /// Publish Params after every this many updates (and every 2 s regardless, for late joiners).
    public var publishEveryUpdates = 1
    /// Environment steps per APPO update, made of whole rollouts (Sample Factory's batch_size):
    /// larger batches spend the update's fixed costs on more samples and use the BLAS kernel better.
    public var batchSamples = 1024
    /// Threads an update is split across (data-parallel: each computes the gradients of its
    /// share of the batch, summed in a fixed order, one Adam step). Two is the measured best for
    /// `oni run` on 2 cores (the workers need little: 8.9k against 7.2k env steps/s on
    /// grid:keyroom); a learner with a node of its own can use more.
    public var learnerThreads = 2
    /// Rollouts whose policy is more than this many versions behind are not trained on (counted).
    public var maxPolicyLag: Int64 = 100
    /// Seconds between checkpoints (one is also written on shutdown).
    public var checkpointIntervalSeconds = 60.0
    /// Keep a milestone checkpoint (`checkpoints/step-NNNNNNNNN.safetensors`) each time the env
    /// steps pass a multiple of this (0 = none), for learning curves over checkpoints.
    public var keepCheckpointsEvery: UInt64 = 0
    /// Evaluate the current policy each time the env steps pass a multiple of this (0 = never),
    /// on a thread of its own, with `evalEpisodes` fresh episodes; results as `eval/*` metrics.
    public var evalEvery: UInt64 = 0
    public var evalEpisodes = 10
    /// Seed of the network's initial weights.
    public var seed: UInt64 = 1
    /// Network sizes (workers build whatever the Params describe).
    public var embedding = 8
    public var filters = 16
    public var hidden = 256
    public var messageFilters = 16
    /// The recurrent core; nil lets the environment decide (GRU for an egocentric view, none for a whole map).
    public var core: PolicyArchitecture.Core? = nil

    public init() {}
}
