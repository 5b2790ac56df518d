import Foundation
import OniCore
import OniRewards
import Testing

@Suite struct MessageRankerTests {
    /// The Bradley–Terry loss against hand-computed values: −log σ(d) for a win of the
    /// first, −log σ(−d) for the second, the mean of both for a tie.
    @Test func bradleyTerryLossByHand() {
        let (loss, gradient) = MessageRanker.bradleyTerry(differences: [0, 2, 2, -1], preferences: [1, 1, 0.5, 0])
        // log 2 = 0.693147; softplus(−2) = 0.126928; ½(0.126928 + 2.126928) = 1.126928; softplus(−1) = 0.313262
        let expected = (0.693147 + 0.126928 + 1.126928 + 0.313262) / 4
        #expect(abs(loss - expected) < 1e-5)
        // (σ(d) − p)/n: (0.5 − 1)/4, (0.880797 − 1)/4, (0.880797 − 0.5)/4, (0.268941 − 0)/4
        let expectedGradient: [Float] = [-0.125, -0.0298007, 0.0951993, 0.0672353]
        for (g, e) in zip(gradient, expectedGradient) { #expect(abs(g - e) < 1e-5) }
    }

    /// Pairs judged from a hidden ranking (with ties within a level) are enough for the
    /// scores to recover the ranking, including for messages never compared.
    @Test func learnsAHiddenRankingFromPairs() {
        let levels: [(String, Int)] = [
            ("You kill the rat!", 2), ("You kill the newt!", 2), ("You find a key.", 1), ("You unlock the door.", 1),
            ("It's a wall.", 0), ("You hear some noises.", 0), ("The door is locked.", 0),
        ]
        var rng = SeededGenerator(seed: 4)
        var pairs: [JudgedPair] = []
        for _ in 0..<200 {
            let a = levels[rng.below(levels.count)], b = levels[rng.below(levels.count)]
            pairs.append(JudgedPair(first: a.0, second: b.0, preference: a.1 == b.1 ? 0.5 : (a.1 > b.1 ? 1 : 0)))
        }
        let ranker = MessageRanker(seed: 1)
        let before = ranker.accuracy(on: pairs) ?? 0
        ranker.train(on: pairs, steps: 300, rng: &rng)
        #expect(ranker.version == 1)
        #expect((ranker.accuracy(on: pairs) ?? 0) > 0.95, "accuracy \(ranker.accuracy(on: pairs) ?? 0), before \(before)")
        let s = ranker.scores(["You kill the jackal!", "You find a key.", "It's a wall."])
        #expect(s[0] > s[1] && s[1] > s[2], "\(s)")
    }

    @Test func cosineOfCharacterNGrams() {
        #expect(abs(MessageFeatures.cosine("You find a key.", "you FIND a key.") - 1) < 1e-6)
        let near = MessageFeatures.cosine("You find a key.", "Find the key and unlock the door.")
        let far = MessageFeatures.cosine("You hear some noises.", "Find the key and unlock the door.")
        #expect(near > far && far >= 0 && near < 1)
        #expect(MessageFeatures.cosine("", "anything") == 0)
    }
}
