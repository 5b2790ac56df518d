import OniRewards
import OniStorage

/// The run store's rows as the reward tables hold them (the learner resuming, `oni replay fit-reward`).
extension MessageRegistry {
    mutating func restore(_ row: RunStore.MessageRow) {
        restore(id: row.id, text: row.text, count: row.count, firstSeenEnvSteps: row.firstSeenEnvSteps, label: row.label, confidence: row.confidence)
    }
}

extension PairTable {
    mutating func restore(_ row: RunStore.PairRow) {
        restore(id: row.id, Pair(first: row.firstID, second: row.secondID, createdEnvSteps: row.createdEnvSteps, preference: row.preference))
    }
}
