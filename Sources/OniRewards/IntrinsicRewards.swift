import Foundation
import OniCore

/// The learner's intrinsic reward: ONI's composition of a rollout's extrinsic rewards with the
/// chosen `IntrinsicReward`'s r_int of its messages (by the ids the intake gave them), and the
/// figures it reports.
public final class IntrinsicRewards {
    public let composition: RewardComposition
    /// The reward the composition names.
    public let reward: any IntrinsicReward
    private var intrinsicPerStep = RollingWindow(capacity: 100)
    private var rewardedFraction = RollingWindow(capacity: 100)

    public init(composition: RewardComposition, seed: UInt64, goalText: String) {
        self.composition = composition
        reward = composition.makeReward(seed: seed, goalText: goalText)
    }

    /// The intrinsic term each step of a rollout was paid, to be stored with it.
    public struct Payment: Sendable {
        public var rewardType: IntrinsicRewardType
        /// The version of what decided r_int (labels known, model version).
        public var version: Int
        public var perStep: [Float]
    }

    /// The formula, for the log.
    public var formula: String {
        let c = composition
        return "\(c.extrinsicCoefficient)·r_ext"
            + (c.type == .none ? "" : " + \(c.llmCoefficient)·\(c.type.rawValue)(msg)/N_\(c.countScope.rawValue)(msg)^\(c.countExponent)")
    }

    /// The rollout with its rewards replaced by the composition (r_int once per distinct
    /// message), and what each step was paid. `ids[k]` is the registry's id of
    /// `rollout.messages[k]` (nil for a message the rollout never shows).
    public func apply(to rollout: Rollout, ids: [UInt64?], registry: MessageRegistry) -> (rollout: Rollout, paid: Payment?) {
        precondition(ids.count == rollout.messages.count, "one id per message of the rollout")
        let known = ids.compactMap { $0 }
        let (knownRewards, version) = reward.rewards(of: known, messages: registry)
        var messageRewards = [Double](repeating: 0, count: ids.count)
        var next = 0
        for (k, id) in ids.enumerated() where id != nil {
            messageRewards[k] = knownRewards[next]
            next += 1
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
        let paid = composition.type == .none ? nil : Payment(rewardType: composition.type, version: version, perStep: intrinsic)
        return (composed, paid)
    }

    /// After a policy update: the reward learns from the annotations so far (see the reward's type).
    public func afterUpdate(registry: MessageRegistry, pairs: PairTable, updates: Int64) {
        reward.afterUpdate(messages: registry, pairs: pairs, updates: updates)
    }

    /// reward/* figures for the metrics snapshot.
    public var metrics: [String: Double] {
        var values = reward.figures
        if let mean = intrinsicPerStep.mean { values["reward/intrinsic_per_step"] = mean }
        if let mean = rewardedFraction.mean { values["reward/rewarded_step_fraction"] = mean }
        values["reward/llm_coeff"] = composition.type == .none ? 0 : composition.llmCoefficient
        return values
    }
}
