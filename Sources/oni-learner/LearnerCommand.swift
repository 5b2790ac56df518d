import ArgumentParser
import Foundation
import Logging
import OniLearning
import OniRuntime
import OniTransport

@main
struct LearnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oni-learner",
        abstract: "Receive rollouts, store them, get messages labelled, publish metrics.",
        discussion: """
            Binds the experience (PULL), params (PUB), metrics (PUB) and control (REP) sockets. \
            Everything it receives goes to RUN_DIR/oni.sqlite; metrics also to RUN_DIR/metrics.jsonl. \
            With --resume it continues the run in --run-dir: messages, labels, counters and, from \
            RUN_DIR/checkpoints, the policy and optimiser (falling back to the previous checkpoint \
            if the newest is corrupt); without it, a run directory that already holds a run is refused. \
            Stops on SIGINT/SIGTERM or after --max-env-steps, flushing the store first.
            """)

    @Option(help: "Run directory (created if missing).") var runDir = LearnerConfig().runDirectory
    @Flag(help: "Continue the run in --run-dir (an empty directory simply starts).") var resume = false
    @Option(help: "Experience socket (workers connect here).") var experienceBind = LearnerConfig().experienceBind
    @Option(help: "Params socket.") var paramsBind = LearnerConfig().paramsBind
    @Option(help: "Metrics socket (oni metrics --follow connects here).") var metricsBind = LearnerConfig().metricsBind
    @Option(help: "Control socket (status requests).") var controlBind = LearnerConfig().controlBind
    @Option(help: "Annotator endpoint, e.g. tcp://127.0.0.1:5560; omit to run without annotation.") var annotator: String?
    @Option(help: "Goal the messages are judged against: default, combat, gold, stairs or free text.") var goal = LearnerConfig().goal
    @Option(name: [.customLong("llm-batch-size"), .customLong("llm_batch_size")], help: "Messages per annotation request.")
    var llmBatchSize = LearnerConfig().llmBatchSize
    @Option(help: "Annotation requests in flight at once.") var maxAnnotationRequests = LearnerConfig().maxAnnotationRequestsInFlight
    @Option(help: "Seconds before an unanswered annotation request is re-sent.") var annotationTimeout = LearnerConfig().annotationTimeoutSeconds
    @Option(help: "Seconds between metrics snapshots.") var metricsInterval = LearnerConfig().metricsIntervalSeconds
    @Option(help: "Seconds of silence before a worker counts as dead.") var livenessTimeout = LearnerConfig().livenessTimeoutSeconds
    @Option(help: "Stop after this many env steps (0 = until stopped).") var maxEnvSteps = LearnerConfig().maxEnvSteps
    @Flag(inversion: .prefixedNo, help: "Keep rollouts in the store (replayable); --no-store-rollouts is --store-fraction 0.") var storeRollouts = true
    @Option(help: "Fraction of the rollouts kept in the store, evenly spread (episodes, messages, labels, metrics are always kept).")
    var storeFraction = 1.0
    @Option(help: "Stop keeping rollouts once they take this many MiB of the store (0 = no cap).") var storeMaxMb = 0
    @Flag(inversion: .prefixedNo, help: "Write TensorBoard event files to RUN_DIR/tb.") var tensorboard = true
    @Option(help: "Largest frame accepted, in bytes.") var maxFrameBytes = LearnerConfig().maxFrameBytes
    @Option(help: "Environment the workers play (fixes the network's shape): \(EnvironmentNames.list).") var env = LearnerConfig().env
    @Flag(inversion: .prefixedNo, help: "Train the policy with APPO (off: record and label only).") var train = true
    @Option(help: "Adam learning rate.") var learningRate = TrainingConfig().learningRate
    @Option(help: "Discount γ.") var discount = TrainingConfig().discount
    @Option(help: "Entropy bonus weight.") var entropyCoefficient = TrainingConfig().entropyCoefficient
    @Option(help: "Value loss weight.") var valueCoefficient = TrainingConfig().valueCoefficient
    @Option(help: "PPO clipping ε.") var clip = TrainingConfig().clip
    @Option(help: "Clip the global gradient norm to this (0 = no clipping).") var maxGradNorm = TrainingConfig().maxGradientNorm
    @Option(help: "Scale extrinsic rewards by this before clipping to ±10.") var rewardScale = TrainingConfig().rewardScale
    @Option(help: "Clip the value's change from the acting policy's value to ±this (0 = no clipping).") var valueClip = TrainingConfig().valueClip
    @Option(help: "Intrinsic reward: auto (retrieval with an annotator, none without), none, retrieval, classification, ranking or cosine.")
    var reward = "auto"
    @Option(name: [.customLong("ranking-threshold"), .customLong("ranking_threshold")], help: "Normalised score (standard deviations above the mean) above which the ranking reward pays.")
    var rankingThreshold = RewardComposition().rankingThreshold
    @Option(help: "Pairs each new message is put in for the ranking reward.") var rankingPairs = 4
    @Option(help: "Weights the classification or ranking model starts from (written by `oni replay fit-reward`).") var rewardInit: String?
    @Option(help: "Similarity to the goal text from which the cosine reward pays.") var cosineThreshold = RewardComposition().cosineThreshold
    @Option(name: [.customLong("classification-threshold"), .customLong("classification_threshold")], help: "P(progress) above which the classifier pays.")
    var classificationThreshold = RewardComposition().classificationThreshold
    @Option(name: [.customLong("llm-reward-coeff"), .customLong("llm_reward_coeff")], help: "Weight of the intrinsic (LLM) reward.")
    var llmRewardCoeff = RewardComposition().llmCoefficient
    @Option(name: [.customLong("extrinsic-reward-coeff"), .customLong("extrinsic_reward_coeff")], help: "Weight of the game's reward.")
    var extrinsicRewardCoeff = RewardComposition().extrinsicCoefficient
    @Option(name: [.customLong("beta-count-exponent"), .customLong("beta_count_exponent")], help: "β of the 1/N(msg)^β count scaling.")
    var betaCountExponent = RewardComposition().countExponent
    @Option(help: "Count N(msg) per episode (ONI) or globally.") var countScope = RewardComposition().countScope.rawValue
    @Option(help: "Environment steps per APPO update, made of whole rollouts (larger: faster per sample, fewer updates).")
    var batchSize = LearnerConfig().batchSamples
    @Option(help: "Threads an update is split across (data-parallel; the same batch and thread count give the same weights).")
    var learnerThreads = LearnerConfig().learnerThreads
    @Option(help: "Skip rollouts whose policy is more than this many versions old.") var maxPolicyLag = LearnerConfig().maxPolicyLag
    @Option(help: "Publish params after every this many updates.") var publishEvery = LearnerConfig().publishEveryUpdates
    @Option(help: "Seed of the initial weights.") var seed = LearnerConfig().seed
    @Option(help: "Seconds between checkpoints (also written on shutdown).") var checkpointInterval = LearnerConfig().checkpointIntervalSeconds
    @Option(help: "Network: character embedding size.") var embedding = LearnerConfig().embedding
    @Option(help: "Network: filters of each convolution.") var filters = LearnerConfig().filters
    @Option(help: "Network: hidden layer width (and recurrent state size).") var hidden = LearnerConfig().hidden
    @Option(help: "Network: filters of each message convolution (used when the env has a message).") var messageFilters = LearnerConfig().messageFilters
    @Option(help: "Network: recurrent core, auto (GRU for an egocentric view, none for a whole map), gru or none.") var core = "auto"
    @Option(help: ArgumentHelp(CurveSettings.help, valueName: "dir")) var curve: String?
    @Option(help: ArgumentHelp(CurveSettings.clientKeyHelp, valueName: "file")) var curveClientKey: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"

    func validate() throws {
        guard llmBatchSize > 0, maxAnnotationRequests > 0 else {
            throw ValidationError("--llm-batch-size and --max-annotation-requests must be positive")
        }
        guard annotationTimeout > 0, livenessTimeout > 0 else { throw ValidationError("--annotation-timeout and --liveness-timeout must be positive") }
        guard metricsInterval >= 0.05 else { throw ValidationError("--metrics-interval must be at least 0.05 s") }
        try FrameLimit.validate(maxFrameBytes)
        guard embedding > 0, filters > 0, hidden > 0, messageFilters > 0 else {
            throw ValidationError("--embedding, --filters, --hidden and --message-filters must be positive")
        }
        guard PolicyArchitecture.Core.choice(core) != nil else {
            throw ValidationError("--core must be one of \(PolicyArchitecture.Core.choices), got '\(core)'")
        }
        guard valueClip >= 0 else { throw ValidationError("--value-clip must be ≥ 0") }
        guard IntrinsicRewardType.choice(reward) != nil else {
            throw ValidationError("--reward must be one of \(IntrinsicRewardType.choices), got '\(reward)'")
        }
        guard MessageCountScope(rawValue: countScope) != nil else { throw ValidationError("--count-scope must be episode or global") }
        guard (0...1).contains(storeFraction), storeMaxMb >= 0 else { throw ValidationError("--store-fraction must be in [0, 1] and --store-max-mb ≥ 0") }
        guard (0...1).contains(classificationThreshold) else { throw ValidationError("--classification-threshold must be in [0, 1]") }
        guard (0...1).contains(cosineThreshold) else { throw ValidationError("--cosine-threshold must be in [0, 1]") }
        guard rankingPairs > 0 else { throw ValidationError("--ranking-pairs must be at least 1") }
        guard llmRewardCoeff.isFinite, extrinsicRewardCoeff.isFinite, betaCountExponent.isFinite, betaCountExponent >= 0 else {
            throw ValidationError("reward coefficients must be finite and --beta-count-exponent ≥ 0")
        }
        guard batchSize > 0, (1...256).contains(learnerThreads) else {
            throw ValidationError("--batch-size must be positive and --learner-threads in 1...256")
        }
        guard learningRate > 0, (0...1).contains(discount), clip > 0, publishEvery > 0, maxPolicyLag >= 0 else {
            throw ValidationError("--learning-rate and --clip must be positive, --discount in [0, 1], --publish-every ≥ 1, --max-policy-lag ≥ 0")
        }
    }

    func run() throws {
        var config = LearnerConfig()
        config.runDirectory = runDir
        config.resume = resume
        config.experienceBind = experienceBind
        config.paramsBind = paramsBind
        config.metricsBind = metricsBind
        config.controlBind = controlBind
        config.annotatorEndpoint = annotator
        config.goal = goal
        config.llmBatchSize = llmBatchSize
        config.maxAnnotationRequestsInFlight = maxAnnotationRequests
        config.annotationTimeoutSeconds = annotationTimeout
        config.metricsIntervalSeconds = metricsInterval
        config.livenessTimeoutSeconds = livenessTimeout
        config.maxEnvSteps = maxEnvSteps
        config.storeRolloutsFraction = storeRollouts ? storeFraction : 0
        config.storeMaxRolloutBytes = storeMaxMb > 0 ? Int64(storeMaxMb) << 20 : nil
        config.tensorBoard = tensorboard
        config.maxFrameBytes = maxFrameBytes
        config.env = env
        config.train = train
        config.training.learningRate = learningRate
        config.training.discount = discount
        config.training.entropyCoefficient = entropyCoefficient
        config.training.valueCoefficient = valueCoefficient
        config.training.clip = clip
        config.training.maxGradientNorm = maxGradNorm
        config.training.rewardScale = rewardScale
        config.training.valueClip = valueClip
        config.reward.type = IntrinsicRewardType.choice(reward)! ?? (annotator == nil ? .none : .retrieval)
        config.reward.llmCoefficient = llmRewardCoeff
        config.reward.extrinsicCoefficient = extrinsicRewardCoeff
        config.reward.countExponent = betaCountExponent
        config.reward.countScope = MessageCountScope(rawValue: countScope)!
        config.reward.classificationThreshold = classificationThreshold
        config.reward.rankingThreshold = rankingThreshold
        config.reward.cosineThreshold = cosineThreshold
        config.rankingPairsPerMessage = rankingPairs
        config.rewardInit = rewardInit
        config.maxPolicyLag = maxPolicyLag
        config.batchSamples = batchSize
        config.learnerThreads = learnerThreads
        config.publishEveryUpdates = publishEvery
        config.seed = seed
        config.checkpointIntervalSeconds = checkpointInterval
        config.embedding = embedding
        config.filters = filters
        config.hidden = hidden
        config.messageFilters = messageFilters
        config.core = PolicyArchitecture.Core.choice(core)!
        try RoleMain.run(
            logLevel: logLevel, label: "oni.learner",
            curve: .from(curve, clientKey: curveClientKey, binds: true, connects: annotator != nil)
        ) { context, stop, logger in
            try Learner(config: config, context: context, stop: stop, logger: logger).run()
        }
    }
}
