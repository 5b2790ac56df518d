import Foundation
import OniLearning
@testable import OniRuntime
import Testing

@Suite struct RewardModelWorkerTests {
    private func published(after job: RewardModelWorker.Job, _ worker: RewardModelWorker) -> RewardModelWorker.Published {
        #expect(worker.submit(job))
        let deadline = Date().addingTimeInterval(300)
        while worker.isBusy && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        return worker.published
    }

    /// Consistent judgements reward the messages that win; all-tie judgements (a judge with no
    /// opinion) reward nothing instead of the noise in nearly equal scores.
    @Test func rankingRewardsWinnersAndNothingForTies() {
        var composition = RewardComposition()
        composition.type = .ranking
        let texts = ["You find a key.", "You unlock the door.", "It's a wall.", "The door is locked.", "You hear some noises."]
        let good: Set = ["You find a key.", "You unlock the door."]
        var judged: [(first: String, second: String, preference: Float)] = []
        for a in texts { for b in texts where a != b { judged.append((a, b, good.contains(a) == good.contains(b) ? 0.5 : (good.contains(a) ? 1 : 0))) } }
        let counts = texts.map { _ in 10.0 }
        let decided = published(after: .init(examples: .pairs(train: judged, heldOut: []), steps: 60, texts: texts, counts: counts),
                                RewardModelWorker(composition: composition, seed: 1))
        #expect(texts.filter { decided.rewards[$0] == 1 } == ["You find a key.", "You unlock the door."], "\(decided.rewards)")
        #expect(decided.version == 1 && decided.figures["reward/model_version"] == 1)

        let ties = judged.map { (first: $0.first, second: $0.second, preference: Float(0.5)) }
        let none = published(after: .init(examples: .pairs(train: ties, heldOut: []), steps: 60, texts: texts, counts: counts),
                             RewardModelWorker(composition: composition, seed: 1))
        #expect(none.version == 1 && none.rewards.count == texts.count)
        #expect(none.rewards.values.allSatisfy { $0 == 0 }, "\(none.rewards)")
    }
}
