import OniCore
import OniTestSupport
@testable import OniRewards
import Testing

@Suite struct RewardCompositionTests {
    /// ONI's r = ext·r_ext + llm·r_int(msg)/N^β, by hand: ext 0.5, llm 0.4, β 3; message 0 is labelled
    /// progress, message 1 not; the second sighting of message 0 in the episode earns 0.4/2³.
    @Test func rewardComposition() {
        var composition = RewardComposition()
        (composition.type, composition.extrinsicCoefficient, composition.llmCoefficient, composition.countExponent) = (.retrieval, 0.5, 0.4, 3)
        let (rewards, intrinsic, summary) = composition.compose(
            extrinsic: [0, 1, 0, 0], messageIndex: [0, -1, 1, 0], counts: [1, 0, 1, 2], messageRewards: [1, 0])
        let expected: [Float] = [0.4, 0.5, 0, 0.05]
        #expect(zip(rewards, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(rewards)")
        // The intrinsic term alone, as stored with the rollout.
        #expect(zip(intrinsic, [0.4, 0, 0, 0.05] as [Float]).allSatisfy { abs($0 - $1) < 1e-6 }, "\(intrinsic)")
        #expect(abs(summary.intrinsic - 0.45) < 1e-12 && summary.rewardedSteps == 2)
        composition.type = .none
        #expect(composition.compose(extrinsic: [0, 1, 0, 0], messageIndex: [0, -1, 1, 0], counts: [1, 0, 1, 2], messageRewards: [1, 0]).rewards == [0, 0.5, 0, 0])
    }

    /// ONI's order: the game's reward clipped to ±10 first, then weighted (a success of 50 with
    /// coefficient 10 is worth 100); the intrinsic term is not clipped.
    @Test func extrinsicClipComesBeforeTheCoefficient() {
        var composition = RewardComposition()
        (composition.type, composition.extrinsicCoefficient, composition.extrinsicClip, composition.llmCoefficient) = (.retrieval, 10, 10, 40)
        let (rewards, _, _) = composition.compose(extrinsic: [50, -30, 3, 0], messageIndex: [-1, -1, -1, 0], counts: [0, 0, 0, 1], messageRewards: [1])
        #expect(rewards == [100, -100, 30, 40])
        composition.extrinsicClip = 0
        #expect(composition.compose(extrinsic: [50], messageIndex: [-1], counts: [0], messageRewards: []).rewards == [500])
    }

    /// Each type is its own implementation, asking the annotator for what it learns from.
    @Test func eachTypeIsAnImplementation() {
        var composition = RewardComposition()
        let expected: [IntrinsicRewardType: (any IntrinsicReward.Type, AnnotationNeed)] = [
            .none: (NoIntrinsicReward.self, .labels), .retrieval: (RetrievalReward.self, .labels), .cosine: (CosineReward.self, .labels),
            .classification: (TrainedReward<MessageClassifier>.self, .labels), .ranking: (TrainedReward<MessageRanker>.self, .pairs),
        ]
        for type in IntrinsicRewardType.allCases {
            composition.type = type
            let reward = composition.makeReward(seed: 1, goalText: "find the key")
            #expect(ObjectIdentifier(Swift.type(of: reward)) == ObjectIdentifier(expected[type]!.0), "\(type)")
            #expect(reward.annotation == expected[type]!.1)
            #expect((reward.weights != nil) == type.isTrained)
        }
    }

    /// The classifier pays 1 above its threshold; the ranking rule standardises by the count-weighted
    /// mean and deviation: outputs 0 (9 steps) and 10 (1 step) have mean 1 and σ 3, so z = −1/3 and 3.
    @Test func payRulesByHand() {
        let classification = ProbabilityAbove(threshold: 0.7).fitted(outputs: [0.2, 0.9], counts: [1, 1])
        #expect([0.69, 0.71, 0.9].map(classification.pay) == [0, 1, 1])
        let indicator = StandardisedScore(threshold: 0.5, payment: .indicator).fitted(outputs: [0, 10], counts: [9, 1])
        #expect(abs(indicator.figures["reward/ranker_score_mean"]! - 1) < 1e-12 && abs(indicator.figures["reward/ranker_score_std"]! - 3) < 1e-12)
        #expect([0, 10, 2.4, 2.6].map(indicator.pay) == [0, 1, 0, 1])
        let zscore = StandardisedScore(threshold: -0.5, payment: .zscore).fitted(outputs: [0, 10], counts: [9, 1])
        let paid = [0, 10, -1, -0.6, -0.4].map(zscore.pay)
        let expected = [-1.0 / 3, 3, 0, 0, -1.4 / 3]
        #expect(zip(paid, expected).allSatisfy { abs($0 - $1) < 1e-12 }, "\(paid)")
        // All scores alike: nothing to tell apart, nothing paid.
        #expect(StandardisedScore(threshold: -0.5, payment: .zscore).fitted(outputs: [1, 1], counts: [3, 4]).pay(1) == 0)
    }

    /// Rewards follow the ids the intake gave the messages, not their texts: a rollout whose message
    /// slot no step shows (nil id) pays nothing there; retrieval's version is the labels known.
    @Test func retrievalPaysByMessageID() {
        var registry = MessageRegistry()
        let key = registry.observe("You find a key.", occurrences: 1, envSteps: 1).id
        let wall = registry.observe("It's a wall.", occurrences: 1, envSteps: 1).id
        registry.setLabel(key, 1)
        registry.setLabel(wall, 0)
        var composition = RewardComposition()
        (composition.type, composition.llmCoefficient, composition.countExponent, composition.extrinsicCoefficient) = (.retrieval, 0.5, 1, 1)
        let rewards = IntrinsicRewards(composition: composition, seed: 1, goalText: "")
        var rollout = sampleRollout(steps: 4, envs: 1)
        rollout.messages = ["It's a wall.", "unseen", "You find a key."]
        rollout.messageIndex = [2, 0, -1, 2]
        rollout.messageEpisodeCount = [1, 1, 0, 2]
        rollout.rewards = [0, 0, 1, 0]
        let (composed, paid) = rewards.apply(to: rollout, ids: [wall, nil, key], registry: registry)
        #expect(composed.rewards == [0.5, 0, 1, 0.25])
        #expect(paid?.perStep == [0.5, 0, 0, 0.25] && paid?.version == 2 && paid?.rewardType == .retrieval)
    }

    /// Every tenth message (by id) is held out, the rest trained on in id order, weighted by confidence.
    @Test func examplesHoldOutEveryTenthID() {
        var registry = MessageRegistry()
        for i in 1...25 { _ = registry.observe("message \(i)", occurrences: 1, envSteps: 0) }
        for id: UInt64 in 1...25 where id != 7 { registry.setLabel(id, id % 2 == 0 ? 1 : 0, confidence: 0.8) }
        let examples = RewardExamples(labelsOf: registry)
        #expect(examples.heldOut.map(\.text) == ["message 10", "message 20"])
        #expect(examples.train.count == 22 && examples.train.first == LabelledMessage(text: "message 1", label: 0, weight: 0.8))
        #expect(examples.train.map(\.text) == (1...25).filter { $0 % 10 != 0 && $0 != 7 }.map { "message \($0)" })
    }

    /// ONI's frequency-drawn partners: a message seen 1,000 times is the first partner far more
    /// often than under uniform draws (1 in 20).
    @Test func frequencySamplingFavoursFrequentMessages() {
        var registry = MessageRegistry()
        let frequent = registry.observe("You hear someone counting money.", occurrences: 1000, envSteps: 0).id
        for i in 1...20 { _ = registry.observe("rare \(i)", occurrences: 1, envSteps: 0) }
        func shareWithFrequent(_ sampling: PairSampling) -> Double {
            var rng = SeededGenerator(seed: 3)
            var hits = 0
            for i in 0..<200 {
                var table = PairTable(pairsPerMessage: 1, sampling: sampling)
                let message = UInt64(2 + i % 20)
                let id = table.propose(for: message, among: registry, envSteps: 0, rng: &rng)[0]
                let pair = table.pairs[id]!
                if pair.first == frequent || pair.second == frequent { hits += 1 }
            }
            return Double(hits) / 200
        }
        let (byFrequency, uniform) = (shareWithFrequent(.frequency), shareWithFrequent(.uniform))
        #expect(byFrequency > 0.9 && uniform < 0.15, "frequency \(byFrequency), uniform \(uniform)")

    }
}
