import OniCore
import OniRewards
import Testing

@Suite struct PairTableTests {
    @Test func eachMessageJoinsDistinctPairsNumberedFromOne() {
        var table = PairTable(pairsPerMessage: 3)
        var rng = SeededGenerator(seed: 2)
        var all: [UInt64] = []
        for message in UInt64(1)...20 {
            let created = table.propose(for: message, among: all, envSteps: message * 10, rng: &rng)
            #expect(created.count == min(3, all.count))
            for id in created {
                #expect(id >= 1 && id <= UInt64(table.count))
                let pair = table.pairs[id]!
                #expect(pair.first == message || pair.second == message)
                #expect(pair.first != pair.second && pair.preference == nil)
            }
            all.append(message)
        }
        let unordered = Set(table.pairs.values.map { Set([$0.first, $0.second]) })
        #expect(unordered.count == table.count)
        // Both orders occur: the LLM's liking for one position is averaged out.
        #expect(table.pairs.values.contains { $0.first < $0.second } && table.pairs.values.contains { $0.first > $0.second })
        #expect(table.takeNew().count == table.count && table.takeNew().isEmpty)
        let id = table.pairs.keys.min()!
        table.setPreference(id, 0.5)
        table.setPreference(id, 1)
        #expect(table.judgedCount == 1 && table.pairs[id]?.preference == 1)
    }

    @Test func restoredPairsAreNotProposedAgain() {
        var table = PairTable(pairsPerMessage: 1)
        table.restore(id: 7, PairTable.Pair(first: 1, second: 2, createdEnvSteps: 0, preference: 0))
        var rng = SeededGenerator(seed: 1)
        #expect(table.propose(for: 2, among: [1], envSteps: 5, rng: &rng).isEmpty)
        let next = table.propose(for: 3, among: [1, 2], envSteps: 5, rng: &rng)
        #expect(next == [8])
        #expect(table.judgedCount == 1 && table.takeNew().map(\.id) == next)
    }
}
