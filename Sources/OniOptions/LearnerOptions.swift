import ArgumentParser
import OniLearning
import OniRewards
import OniRuntime

/// The learner's settings: everything but where it binds and which run directory it owns.
/// `oni-learner` and `oni run` both take them; config files set them by the same names.
public struct LearnerOptions: ParsableArguments, Sendable {
    // Training.
    @Flag(inversion: .prefixedNo, exclusivity: .chooseLast, help: "Train the policy with APPO (off: record and label only; workers act at random).")
    public var train = true
    @Option(help: "Stop after this many env steps (0 = until stopped; default: 0 for oni-learner, 1000000 for oni run).")
    public var maxEnvSteps: UInt64?
    @Option(help: "Adam's step size.") public var learningRate = TrainingConfig().learningRate
    @Option(help: "Discount γ.") public var discount = TrainingConfig().discount
    @Option(help: "Weight of the entropy bonus (exploration).") public var entropyCoefficient = TrainingConfig().entropyCoefficient
    @Option(help: "Weight of the value loss.") public var valueCoefficient = TrainingConfig().valueCoefficient
    @Option(help: "PPO clipping ε.") public var clip = TrainingConfig().clip
    @Option(help: "Clip the global gradient norm to this (0 = no clipping).") public var maxGradNorm = TrainingConfig().maxGradientNorm
    @Option(help: "Scale the composed reward (extrinsic and intrinsic) by this before clipping it to ±--reward-clip.") public var rewardScale = TrainingConfig().rewardScale
    @Option(help: "Clip the composed reward to ±this after scaling (0 = no clipping).") public var rewardClip = TrainingConfig().rewardClip
    @Option(help: "Clip the value's change from the acting policy's value to ±this (0 = no clipping).") public var valueClip = TrainingConfig().valueClip
    @Option(help: "Environment steps per APPO update, made of whole rollouts (larger: faster per sample, fewer updates).")
    public var batchSize = LearnerConfig().batchSamples
    @Option(help: "Threads an update is split across (data-parallel; the same batch and thread count give the same weights).")
    public var learnerThreads = LearnerConfig().learnerThreads
    @Option(help: "Skip rollouts whose policy is more than this many versions old.") public var maxPolicyLag = LearnerConfig().maxPolicyLag
    @Option(help: "Publish params after every this many updates.") public var publishEvery = LearnerConfig().publishEveryUpdates
    @Option(help: "Seconds between checkpoints (one is also written on shutdown).") public var checkpointInterval = LearnerConfig().checkpointIntervalSeconds
    @Option(help: "Keep checkpoints/step-NNNNNNNNN.safetensors each time the env steps pass a multiple of this (0 = none); `oni evaluate RUN_DIR --all-milestones` evaluates them.")
    public var keepCheckpointsEvery = LearnerConfig().keepCheckpointsEvery
    @Option(help: "Evaluate the policy each time the env steps pass a multiple of this (0 = never), on a thread of its own; results as eval/* metrics.")
    public var evalEvery = LearnerConfig().evalEvery
    @Option(help: "Fresh episodes per evaluation (the same seeds each time).") public var evalEpisodes = LearnerConfig().evalEpisodes

    // Network.
    @Option(help: "Network: character embedding size.") public var embedding = LearnerConfig().embedding
    @Option(help: "Network: filters of each convolution.") public var filters = LearnerConfig().filters
    @Option(help: "Network: hidden layer width (and recurrent state size).") public var hidden = LearnerConfig().hidden
    @Option(help: "Network: filters of each message convolution (used when the env has a message).") public var messageFilters = LearnerConfig().messageFilters
    @Option(help: "Network: recurrent core (auto: GRU for an egocentric view, none for a whole map).") public var core = CoreChoice.auto

    // Intrinsic reward.
    @Option(help: "Intrinsic reward (auto: retrieval when an LLM annotates, none otherwise).") public var reward = RewardChoice.auto
    @Option(parsing: .unconditional, help: "Weight of the intrinsic (LLM) reward.") public var llmRewardCoeff = RewardComposition().llmCoefficient
    @Option(parsing: .unconditional, help: "Weight of the game's reward.") public var extrinsicRewardCoeff = RewardComposition().extrinsicCoefficient
    @Option(help: "Clip the game's reward to ±this before its weight (0 = no clipping; ONI: 10).") public var extrinsicRewardClip = RewardComposition().extrinsicClip
    @Option(help: "β of the 1/N(msg)^β count scaling.") public var betaCountExponent = RewardComposition().countExponent
    @Option(help: "Where N(msg) is counted: per episode (ONI) or over the whole run.") public var countScope = RewardComposition().countScope
    @Option(help: "P(progress) above which the classifier pays.") public var classificationThreshold = RewardComposition().classificationThreshold
    // Values that may be negative are read as values even though they start with "-".
    @Option(parsing: .unconditional, help: "Normalised score (standard deviations above the mean) above which the ranking reward pays (ONI: -0.5).")
    public var rankingThreshold = RewardComposition().rankingThreshold
    @Option(help: "What the ranking reward pays above its threshold: indicator (1) or zscore (the normalised score, ONI's).")
    public var rankingPayment = RewardComposition().rankingPayment
    @Option(help: "The classification reward's text model: ngram (character n-grams and an MLP) or char-cnn (a character CNN, as ONI's classifier).")
    public var rewardModel = RewardComposition().textModel
    @Option(help: "Pairs each new message is put in for the ranking reward.") public var rankingPairs = LearnerConfig().rankingPairsPerMessage
    @Option(help: "How a new message's partners are drawn: uniform over known messages, or by frequency (ONI's).")
    public var pairSampling = LearnerConfig().pairSampling
    @Option(help: "Similarity to the goal text from which the cosine reward pays.") public var cosineThreshold = RewardComposition().cosineThreshold
    @Option(help: "Weights the classification or ranking model starts from (written by `oni replay fit-reward`).") public var rewardInit: String?

    // Annotation requests.
    @Option(help: "Goal the messages are judged against: default, combat, gold, stairs, zeroknowledge (none given) or free text.") public var goal = LearnerConfig().goal
    @Option(help: "Messages per annotation request.") public var llmBatchSize = LearnerConfig().llmBatchSize
    @Option(help: "Annotation requests in flight at once.") public var maxAnnotationRequests = LearnerConfig().maxAnnotationRequestsInFlight
    @Option(help: "Seconds before an unanswered annotation request is re-sent.") public var annotationTimeout = LearnerConfig().annotationTimeoutSeconds

    // Store and metrics.
    @Option(help: "Fraction of the rollouts kept in the store, evenly spread (episodes, messages, labels, metrics are always kept).")
    public var storeFraction = LearnerConfig().storeRolloutsFraction
    @Option(help: ArgumentHelp("Cap the stored rollouts at this many MiB, thinning the oldest first (auto: the smaller of 20 GiB and half the free space; 0: no cap).", valueName: "mib|auto"))
    public var storeMaxMb = StoreCapSetting.automatic
    @Flag(inversion: .prefixedNo, exclusivity: .chooseLast, help: "Write TensorBoard event files to RUN_DIR/tb.") public var tensorboard = true
    @Option(help: "Seconds between metrics snapshots.") public var metricsInterval = LearnerConfig().metricsIntervalSeconds
    @Option(help: "Seconds of silence before a worker counts as dead.") public var livenessTimeout = LearnerConfig().livenessTimeoutSeconds

    public init() {}

    public func validate() throws {
        guard llmBatchSize > 0, maxAnnotationRequests > 0 else { throw ValidationError("--llm-batch-size and --max-annotation-requests must be positive") }
        guard annotationTimeout > 0, livenessTimeout > 0 else { throw ValidationError("--annotation-timeout and --liveness-timeout must be positive") }
        guard metricsInterval >= 0.05 else { throw ValidationError("--metrics-interval must be at least 0.05 s") }
        guard embedding > 0, filters > 0, hidden > 0, messageFilters > 0 else {
            throw ValidationError("--embedding, --filters, --hidden and --message-filters must be positive")
        }
        guard valueClip >= 0, maxGradNorm >= 0 else { throw ValidationError("--value-clip and --max-grad-norm must be ≥ 0") }
        guard rewardClip >= 0, extrinsicRewardClip >= 0 else { throw ValidationError("--reward-clip and --extrinsic-reward-clip must be ≥ 0") }
        guard (0...1).contains(storeFraction) else { throw ValidationError("--store-fraction must be in [0, 1]") }
        guard (0...1).contains(classificationThreshold) else { throw ValidationError("--classification-threshold must be in [0, 1]") }
        guard (0...1).contains(cosineThreshold) else { throw ValidationError("--cosine-threshold must be in [0, 1]") }
        guard rankingPairs > 0 else { throw ValidationError("--ranking-pairs must be at least 1") }
        guard !(reward == .ranking && rewardModel == .charCNN) else { throw ValidationError("--reward-model char-cnn classifies; the ranking reward learns with ngram") }
        guard llmRewardCoeff.isFinite, extrinsicRewardCoeff.isFinite, betaCountExponent.isFinite, betaCountExponent >= 0 else {
            throw ValidationError("reward coefficients must be finite and --beta-count-exponent ≥ 0")
        }
        guard batchSize > 0, (1...256).contains(learnerThreads) else { throw ValidationError("--batch-size must be positive and --learner-threads in 1...256") }
        guard learningRate > 0, (0...1).contains(discount), clip > 0, publishEvery > 0, maxPolicyLag >= 0, entropyCoefficient >= 0 else {
            throw ValidationError(
                "--learning-rate and --clip must be positive, --discount in [0, 1], --publish-every ≥ 1, --max-policy-lag and --entropy-coefficient ≥ 0")
        }
        guard checkpointInterval > 0 else { throw ValidationError("--checkpoint-interval must be positive") }
        guard evalEpisodes > 0 else { throw ValidationError("--eval-episodes must be positive") }
    }

    /// These settings applied to a learner configuration.
    public func apply(to config: inout LearnerConfig, annotating: Bool) {
        config.train = train
        config.maxEnvSteps = maxEnvSteps ?? 0
        config.training.learningRate = learningRate
        config.training.discount = discount
        config.training.entropyCoefficient = entropyCoefficient
        config.training.valueCoefficient = valueCoefficient
        config.training.clip = clip
        config.training.maxGradientNorm = maxGradNorm
        config.training.rewardScale = rewardScale
        config.training.rewardClip = rewardClip
        config.training.valueClip = valueClip
        config.batchSamples = batchSize
        config.learnerThreads = learnerThreads
        config.maxPolicyLag = maxPolicyLag
        config.publishEveryUpdates = publishEvery
        config.checkpointIntervalSeconds = checkpointInterval
        config.keepCheckpointsEvery = keepCheckpointsEvery
        config.evalEvery = evalEvery
        config.evalEpisodes = evalEpisodes
        config.embedding = embedding
        config.filters = filters
        config.hidden = hidden
        config.messageFilters = messageFilters
        config.core = core.core
        config.reward.type = reward.resolved(annotating: annotating)
        config.reward.llmCoefficient = llmRewardCoeff
        config.reward.extrinsicCoefficient = extrinsicRewardCoeff
        config.reward.extrinsicClip = extrinsicRewardClip
        config.reward.countExponent = betaCountExponent
        config.reward.countScope = countScope
        config.reward.classificationThreshold = classificationThreshold
        config.reward.rankingThreshold = rankingThreshold
        config.reward.rankingPayment = rankingPayment
        config.reward.textModel = rewardModel
        config.rankingPairsPerMessage = rankingPairs
        config.pairSampling = pairSampling
        config.reward.cosineThreshold = cosineThreshold
        config.rewardInit = rewardInit
        config.goal = goal
        config.llmBatchSize = llmBatchSize
        config.maxAnnotationRequestsInFlight = maxAnnotationRequests
        config.annotationTimeoutSeconds = annotationTimeout
        config.storeRolloutsFraction = storeFraction
        config.storeMaxMegabytes = storeMaxMb.megabytes
        config.tensorBoard = tensorboard
        config.metricsIntervalSeconds = metricsInterval
        config.livenessTimeoutSeconds = livenessTimeout
    }
}
