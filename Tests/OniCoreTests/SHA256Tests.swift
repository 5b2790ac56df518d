import OniCore
import Testing

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Two blocks (56 bytes forces a second padding block).
        #expect(
            SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}

@Suite struct SeededGeneratorTests {
    @Test func sameSeedSameSequence() {
        var a = SeededGenerator(seed: 42)
        var b = SeededGenerator(seed: 42)
        var c = SeededGenerator(seed: 43)
        let sa = (0..<100).map { _ in a.next() }
        let sb = (0..<100).map { _ in b.next() }
        let sc = (0..<100).map { _ in c.next() }
        #expect(sa == sb)
        #expect(sa != sc)
    }

    @Test func belowIsInRangeAndCoversIt() {
        var g = SeededGenerator(seed: 7)
        var seen = Set<Int>()
        for _ in 0..<1000 {
            let v = g.below(5)
            #expect((0..<5).contains(v))
            seen.insert(v)
        }
        #expect(seen == Set(0..<5))
        let f = (0..<1000).map { _ in g.unitFloat() }
        #expect(f.allSatisfy { $0 >= 0 && $0 < 1 })
    }
}

@Suite struct RolloutValidationTests {
    func rollout() -> Rollout {
        Rollout(
            workerID: "w", sequence: 0, policyVersion: -1, numSteps: 2, numEnvs: 2, envName: "grid:stairs",
            observations: ["chars": Tensor([UInt8](repeating: 46, count: 3 * 2 * 4), shape: [3, 2, 4])],
            actions: [0, 1, 2, 3], behaviourLogProbs: [0, 0, 0, 0], rewards: [0, 0, 1, 0], dones: [0, 0, 1, 0],
            messages: ["It's a wall."], messageIndex: [0, -1, -1, 0], messageEpisodeCount: [1, 0, 0, 2],
            episodes: [EpisodeSummary(envIndex: 0, episodeID: 0, episodeReturn: 1, length: 9, success: true, endStep: 1, seed: 3)],
            workerEnvSteps: 4)
    }

    @Test func validRolloutPasses() {
        #expect(rollout().validate() == nil)
    }

    @Test func badIndexAndSizesAreNamed() {
        var r = rollout()
        r.messageIndex[2] = 5
        #expect(r.validate()?.contains("message index 5") == true)
        r = rollout()
        r.rewards.removeLast()
        #expect(r.validate()?.contains("rewards") == true)
        r = rollout()
        r.observations["chars"] = Tensor([UInt8](repeating: 0, count: 8), shape: [2, 2, 2])
        #expect(r.validate()?.contains("observation chars") == true)
    }
}
