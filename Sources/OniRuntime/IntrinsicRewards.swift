import OniCore
import OniLearning

/// The learner's intrinsic reward: ONI's composition of a rollout's extrinsic
/// rewards with the reward model's r_int of its messages, the classification
/// model and its training schedule, and the figures they report.
struct IntrinsicRewards {
    let composition: RewardComposition
    private let seed: UInt64
    private var intrinsicPerStep = RollingWindow(capacity: 100)
    private var rewardedFraction = RollingWindow(capacity: 100)
    private var classifier: MessageClassifier?
    private var rng = SeededGenerator(seed: 17)
    /// Labels the classifier last trained on, and its rewards per message for its current version.
    private var trainedOnLabels = -1
    private var cached: (version: Int, rewards: [String: Double]) = (-1, [:])
    private var classifierStats: [String: Double] = [:]

    init(composition: RewardComposition, seed: UInt64) {
        self.composition = composition
        self.seed = seed
    }

    /// The formula, for the log.
    var formula: String {
        let c = composition
        return "\(c.extrinsicCoefficient)·r_ext"
            + (c.type == .none ? "" : " + \(c.llmCoefficient)·\(c.type.rawValue)(msg)/N_\(c.countScope.rawValue)(msg)^\(c.countExponent)")
    }

    /// The rollout with its rewards replaced by the composition; r_int once per distinct message.
    mutating func apply(to rollout: Rollout, registry: MessageRegistry) -> Rollout {
        let ids = rollout.messages.map { registry.id(of: $0) }
        let messageRewards: [Double]
        switch composition.type {
        case .none:
            messageRewards = ids.map { _ in 0 }
        case .retrieval:
            messageRewards = ids.map { id in id.flatMap { registry.entry($0)?.label }.map(Double.init) ?? 0 }
        case .classification:
            messageRewards = classified(rollout.messages)
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
        let (rewards, summary) = composition.compose(
            extrinsic: rollout.rewards, messageIndex: rollout.messageIndex, counts: counts, messageRewards: messageRewards)
        intrinsicPerStep.append(summary.intrinsic / Double(max(rollout.stepCount, 1)))
        rewardedFraction.append(Double(summary.rewardedSteps) / Double(max(rollout.stepCount, 1)))
        var composed = rollout
        composed.rewards = rewards
        return composed
    }

    /// r_int of each message under the classifier: computed once per message and classifier version.
    private mutating func classified(_ texts: [String]) -> [Double] {
        guard let classifier, classifier.version > 0 else { return texts.map { _ in 0 } }
        if cached.version != classifier.version { cached = (classifier.version, [:]) }
        let unknown = Array(Set(texts.filter { cached.rewards[$0] == nil }))
        for (text, p) in zip(unknown, classifier.probabilities(unknown)) {
            cached.rewards[text] = p > composition.classificationThreshold ? 1 : 0
        }
        return texts.map { cached.rewards[$0] ?? 0 }
    }

    /// After a policy update: trains the reward model on ONI's schedule — a burst of steps when
    /// new labels arrived, a few steady ones every 20 updates. Every tenth message (by id) is held out.
    mutating func afterUpdate(registry: MessageRegistry, updates: Int64) {
        guard composition.type == .classification else { return }
        if classifier == nil { classifier = MessageClassifier(seed: seed &+ 101) }
        guard let classifier else { return }
        let labelsNow = registry.labelledCount
        let steps = labelsNow != trainedOnLabels ? 50 : (updates % 20 == 0 ? 5 : 0)
        guard steps > 0 else { return }
        var train: [(text: String, label: Float)] = [], heldOut: [(text: String, label: Float)] = []
        for (id, entry) in registry.entries {
            guard let label = entry.label else { continue }
            if id % 10 == 0 { heldOut.append((entry.text, label)) } else { train.append((entry.text, label)) }
        }
        guard train.count >= 2 else { return }
        trainedOnLabels = labelsNow
        classifierStats["reward/classifier_loss"] = classifier.train(on: train, steps: steps, rng: &rng)
        classifierStats["reward/model_version"] = Double(classifier.version)
        classifierStats["reward/classifier_examples"] = Double(train.count)
        if !heldOut.isEmpty {
            let p = classifier.probabilities(heldOut.map(\.text))
            let correct = zip(p, heldOut).filter { ($0 > composition.classificationThreshold) == ($1.label > 0.5) }.count
            classifierStats["reward/classifier_heldout_accuracy"] = Double(correct) / Double(heldOut.count)
        }
    }

    /// reward/* figures for the metrics snapshot.
    var metrics: [String: Double] {
        var values = classifierStats
        if let mean = intrinsicPerStep.mean { values["reward/intrinsic_per_step"] = mean }
        if let mean = rewardedFraction.mean { values["reward/rewarded_step_fraction"] = mean }
        values["reward/llm_coeff"] = composition.type == .none ? 0 : composition.llmCoefficient
        return values
    }
}
