import Foundation
@testable import OniRewards
import Testing

@Suite struct RewardModelWorkerTests {
    private func published(after job: RewardModelWorker<MessageRanker>.Job, _ worker: RewardModelWorker<MessageRanker>)
        -> RewardModelWorker<MessageRanker>.Published
    {
        #expect(worker.submit(job))
        let deadline = Date().addingTimeInterval(300)
        while worker.isBusy && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        return worker.published
    }

    private let texts = ["You find a key.", "You unlock the door.", "It's a wall.", "The door is locked.", "You hear some noises."]

    private func job(_ judged: [JudgedPair]) -> RewardModelWorker<MessageRanker>.Job {
        var examples = RewardExamples<JudgedPair>()
        examples.train = judged
        return .init(examples: examples, steps: 60, ids: [1, 2, 3, 4, 5], texts: texts, counts: texts.map { _ in 10.0 })
    }

    private func judgements(_ good: Set<String>) -> [JudgedPair] {
        var judged: [JudgedPair] = []
        for a in texts {
            for b in texts where a != b {
                judged.append(JudgedPair(first: a, second: b, preference: good.contains(a) == good.contains(b) ? 0.5 : (good.contains(a) ? 1 : 0)))
            }
        }
        return judged
    }

    /// Consistent judgements reward the messages that win (by id); all-tie judgements (a judge
    /// with no opinion) reward nothing instead of the noise in nearly equal scores.
    @Test func rankingRewardsWinnersAndNothingForTies() {
        let rule = StandardisedScore(threshold: 0.5, payment: .indicator)
        let judged = judgements(["You find a key.", "You unlock the door."])
        let decided = published(after: job(judged), RewardModelWorker(model: MessageRanker(seed: 1), rule: rule))
        #expect((1...5).filter { decided.rewards[$0] == 1 } == [1, 2], "\(decided.rewards)")
        #expect(decided.version == 1 && decided.figures["reward/model_version"] == 1)
        #expect(decided.figures["reward/ranker_pairs"] == Double(judged.count) && decided.figures["reward/ranker_rewarded_messages"] == 2)

        let ties = judged.map { JudgedPair(first: $0.first, second: $0.second, preference: 0.5) }
        let none = published(after: job(ties), RewardModelWorker(model: MessageRanker(seed: 1), rule: rule))
        #expect(none.version == 1 && none.rewards.count == texts.count)
        #expect(none.rewards.values.allSatisfy { $0 == 0 }, "\(none.rewards)")
    }

    /// ONI's payment on the same judgements: the winners' standardised scores (above +0.5), and
    /// the losers' between −0.5 and 0 paid as they are (negative), those below −0.5 nothing.
    @Test func zscorePaymentIsTheStandardisedScoreAboveItsThreshold() {
        let judged = judgements(["You find a key."])
        let worker = RewardModelWorker(model: MessageRanker(seed: 1), rule: StandardisedScore(threshold: -0.5, payment: .zscore))
        let paid = published(after: job(judged), worker)
        let winner = paid.rewards[1]!
        #expect(winner > 1, "\(paid.rewards)")
        // Four equal losers and one winner, all counted alike: the winner is 2σ above the mean, the losers 0.5σ below.
        #expect(abs(winner - 2) < 0.05, "\(paid.rewards)")
        for id: UInt64 in 2...5 { #expect(paid.rewards[id]! == 0 || (paid.rewards[id]! < 0 && paid.rewards[id]! > -0.5), "\(paid.rewards)") }
    }
}
