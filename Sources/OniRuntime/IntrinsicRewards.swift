import Foundation
import OniCore
import OniLearning
import OniStorage

/// The learner's intrinsic reward: ONI's composition of a rollout's extrinsic
/// rewards with the reward model's r_int of its messages, the classification
/// and ranking models and their training schedule, and the figures they report.
struct IntrinsicRewards {
    let composition: RewardComposition
    /// The goal's text, for the cosine reward.
    private let goalText: String
    private var intrinsicPerStep = RollingWindow(capacity: 100)
    private var rewardedFraction = RollingWindow(capacity: 100)
    /// The classification or ranking model, trained off the learner's thread.
    private let model: RewardModelWorker
    /// What the model last trained on (labels or judged pairs) and the messages it last scored.
    private var trainedOn = -1
    private var scoredMessages = 0
    /// The cosine reward per message text (it never changes).
    private var similarities: [String: Double] = [:]

    init(composition: RewardComposition, seed: UInt64, goalText: String) {
        self.composition = composition
        self.goalText = goalText
        model = RewardModelWorker(composition: composition, seed: seed)
    }

    /// Whether the reward has a model with weights to keep (classification, ranking).
    var hasModel: Bool { composition.type == .classification || composition.type == .ranking }

    /// Starts the model from saved weights; see `RewardModelWorker.load`.
    func loadModel(from path: String) throws(RewardModelFileError) -> Int { try model.load(from: path) }

    /// Saves the model's weights on its own thread.
    func saveModel(to path: String, done: @escaping @Sendable ((any Error)?) -> Void) { model.save(to: path, done: done) }
    /// Saves the reward model and waits until it is written.
    func saveModelNow(to path: String) throws { try model.saveNow(to: path) }

    /// The formula, for the log.
    var formula: String {
        let c = composition
        return "\(c.extrinsicCoefficient)·r_ext"
            + (c.type == .none ? "" : " + \(c.llmCoefficient)·\(c.type.rawValue)(msg)/N_\(c.countScope.rawValue)(msg)^\(c.countExponent)")
    }

    /// The rollout with its rewards replaced by the composition (r_int once per distinct
    /// message), and the intrinsic term each step was paid, to be stored with the rollout.
    mutating func apply(to rollout: Rollout, registry: MessageRegistry) -> (rollout: Rollout, paid: PaidIntrinsicReward?) {
        let ids = rollout.messages.map { registry.id(of: $0) }
        let messageRewards: [Double]
        var modelVersion = 0
        switch composition.type {
        case .none:
            messageRewards = ids.map { _ in 0 }
        case .retrieval:
            messageRewards = ids.map { id in id.flatMap { registry.entry($0)?.label }.map(Double.init) ?? 0 }
            modelVersion = registry.labelledCount
        case .classification, .ranking:
            // The latest published model version's table: computed once per message and version.
            let published = model.published
            messageRewards = rollout.messages.map { published.rewards[$0] ?? 0 }
            modelVersion = published.version
        case .cosine:
            messageRewards = rollout.messages.map { similarity($0) }
        }
        let counts: [Int64]
        switch composition.countScope {
        case .episode:
            counts = rollout.messageEpisodeCount.map(Int64.init)
        case .global:
            // The registry already counts this rollout: step i's N is what came before it plus its turn here.
            var inRollout = [Int64](repeating: 0, count: rollout.messages.count)
            for k in rollout.messageIndex where k >= 0 { inRollout[Int(k)] += 1 }
            var seen = ids.enumerated().map { k, id in (id.flatMap { registry.entry($0)?.count } ?? inRollout[k]) - inRollout[k] }
            counts = rollout.messageIndex.map { k in
                guard k >= 0 else { return 0 }
                seen[Int(k)] += 1
                return seen[Int(k)]
            }
        }
        let (rewards, intrinsic, summary) = composition.compose(
            extrinsic: rollout.rewards, messageIndex: rollout.messageIndex, counts: counts, messageRewards: messageRewards)
        intrinsicPerStep.append(summary.intrinsic / Double(max(rollout.stepCount, 1)))
        rewardedFraction.append(Double(summary.rewardedSteps) / Double(max(rollout.stepCount, 1)))
        var composed = rollout
        composed.rewards = rewards
        let paid = composition.type == .none
            ? nil : PaidIntrinsicReward(rewardType: composition.type.rawValue, modelVersion: modelVersion, rewards: intrinsic)
        return (composed, paid)
    }

    /// r_int of the cosine baseline: the message's similarity to the goal text, from `cosineThreshold` up.
    private mutating func similarity(_ text: String) -> Double {
        if let known = similarities[text] { return known }
        let value = MessageFeatures.cosine(text, goalText)
        let reward = value >= composition.cosineThreshold ? value : 0
        similarities[text] = reward
        return reward
    }

    /// After a policy update: gives the reward model its next round on ONI's schedule — a burst
    /// of steps when new labels (or judged pairs) arrived, a few steady ones every 20 updates, and
    /// a scoring-only round when new messages appeared. Rounds run on the model's own thread;
    /// while one runs, nothing is submitted. Every tenth message (by id) or pair is held out.
    mutating func afterUpdate(registry: MessageRegistry, pairs: PairTable, updates: Int64) {
        guard composition.type == .classification || composition.type == .ranking, !model.isBusy else { return }
        let examplesNow = composition.type == .ranking ? pairs.judgedCount : registry.labelledCount
        let newMessages = registry.count != scoredMessages
        let steps = examplesNow != trainedOn ? 50 : (updates % 20 == 0 ? 5 : 0)
        guard steps > 0 || (newMessages && model.published.version > 0) else { return }
        let examples: RewardModelWorker.Job.Examples
        if composition.type == .ranking {
            var train: [(first: String, second: String, preference: Float)] = [], heldOut: [(first: String, second: String, preference: Float)] = []
            for (id, pair) in pairs.pairs {
                guard let preference = pair.preference, let a = registry.entry(pair.first)?.text, let b = registry.entry(pair.second)?.text else {
                    continue
                }
                if id % 10 == 0 { heldOut.append((a, b, preference)) } else { train.append((a, b, preference)) }
            }
            guard !train.isEmpty else { return }
            examples = .pairs(train: train, heldOut: heldOut)
        } else {
            var train: [(text: String, label: Float, weight: Float)] = [], heldOut: [(text: String, label: Float)] = []
            for (id, entry) in registry.entries {
                guard let label = entry.label else { continue }
                if id % 10 == 0 { heldOut.append((entry.text, label)) } else { train.append((entry.text, label, entry.confidence)) }
            }
            guard train.count >= 2 else { return }
            examples = .labels(train: train, heldOut: heldOut)
        }
        let entries = registry.entries.values
        let job = RewardModelWorker.Job(
            examples: examples, steps: steps, texts: entries.map(\.text), counts: entries.map { Double(max($0.count, 1)) })
        if model.submit(job) {
            trainedOn = examplesNow
            scoredMessages = registry.count
        }
    }

    /// reward/* figures for the metrics snapshot.
    var metrics: [String: Double] {
        var values = model.published.figures
        if let mean = intrinsicPerStep.mean { values["reward/intrinsic_per_step"] = mean }
        if let mean = rewardedFraction.mean { values["reward/rewarded_step_fraction"] = mean }
        values["reward/llm_coeff"] = composition.type == .none ? 0 : composition.llmCoefficient
        return values
    }
}
