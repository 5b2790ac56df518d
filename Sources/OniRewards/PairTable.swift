import OniCore

/// How the partner of a new message is drawn for the ranking reward's pairs.
public enum PairSampling: String, Sendable, Codable, CaseIterable {
    /// Every known message alike (Oni's default: rare messages get compared too).
    case uniform
    /// In proportion to how often it occurred, as ONI draws pairs from the steps it saw.
    case frequency
}

/// The learner's pairs of messages for the ranking reward: which pairs the LLM is
/// asked to compare and its judgements. Pair ids are the store's (from 1); what the annotator is
/// asked about is an `AnnotationSubject`, which tells a pair from a message.
public struct PairTable: Sendable {
    /// One pair: message ids and, once judged, the preference (1 first, 0 second, 0.5 tie).
    public struct Pair: Sendable, Hashable {
        public var first: UInt64
        public var second: UInt64
        public var createdEnvSteps: UInt64
        public var preference: Float?

        public init(first: UInt64, second: UInt64, createdEnvSteps: UInt64, preference: Float?) {
            self.first = first
            self.second = second
            self.createdEnvSteps = createdEnvSteps
            self.preference = preference
        }
    }

    public private(set) var pairs: [UInt64: Pair] = [:]
    private var known: Set<[UInt64]> = []
    private var nextIndex: UInt64 = 1
    private var dirty: [UInt64] = []
    /// Pairs with a judgement.
    public private(set) var judgedCount = 0

    /// How many pairs each new message is put in.
    public var pairsPerMessage: Int
    /// How its partners are drawn.
    public var sampling: PairSampling

    public init(pairsPerMessage: Int = 4, sampling: PairSampling = .uniform) {
        self.pairsPerMessage = pairsPerMessage
        self.sampling = sampling
    }

    public var count: Int { pairs.count }

    /// Pairs `message` with others the registry knows, drawn as `sampling` says.
    public mutating func propose(for message: UInt64, among registry: MessageRegistry, envSteps: UInt64, rng: inout SeededGenerator) -> [UInt64] {
        let others = registry.entries.keys.sorted()
        let weights = sampling == .frequency ? others.map { Double(max(registry.entries[$0]!.count, 1)) } : nil
        return propose(for: message, among: others, weights: weights, envSteps: envSteps, rng: &rng)
    }

    /// Pairs `message` with up to `pairsPerMessage` others drawn from `among` without replacement,
    /// each in proportion to its weight (alike without weights); which order comes first is drawn
    /// too, so the LLM's position bias averages out. Returns the new pair ids.
    public mutating func propose(
        for message: UInt64, among others: [UInt64], weights: [Double]? = nil, envSteps: UInt64, rng: inout SeededGenerator
    ) -> [UInt64] {
        var candidates = others.indices.filter { others[$0] != message }
        var created: [UInt64] = []
        while created.count < pairsPerMessage, !candidates.isEmpty {
            let other = others[candidates.remove(at: Self.draw(candidates, weights: weights, rng: &rng))]
            let key = [min(message, other), max(message, other)]
            guard !known.contains(key) else { continue }
            let (first, second) = rng.below(2) == 0 ? (message, other) : (other, message)
            let id = nextIndex
            add(id: id, Pair(first: first, second: second, createdEnvSteps: envSteps, preference: nil))
            created.append(id)
        }
        return created
    }

    /// A position in `candidates` (indices into the weights), in proportion to their weights.
    private static func draw(_ candidates: [Int], weights: [Double]?, rng: inout SeededGenerator) -> Int {
        guard let weights else { return rng.below(candidates.count) }
        let total = candidates.reduce(0) { $0 + weights[$1] }
        var target = Double(rng.unitFloat()) * total
        for (position, index) in candidates.enumerated() {
            target -= weights[index]
            if target < 0 { return position }
        }
        return candidates.count - 1
    }

    /// Restores a pair from the store.
    public mutating func restore(id: UInt64, _ pair: Pair) {
        add(id: id, pair)
        dirty.removeAll { $0 == id }
    }

    private mutating func add(id: UInt64, _ pair: Pair) {
        pairs[id] = pair
        known.insert([min(pair.first, pair.second), max(pair.first, pair.second)])
        nextIndex = max(nextIndex, id + 1)
        dirty.append(id)
        if pair.preference != nil { judgedCount += 1 }
    }

    /// Records the LLM's judgement (the latest wins).
    public mutating func setPreference(_ id: UInt64, _ preference: Float) {
        guard var pair = pairs[id] else { return }
        if pair.preference == nil { judgedCount += 1 }
        pair.preference = preference
        pairs[id] = pair
    }

    /// Pairs created since the last call, for the store.
    public mutating func takeNew() -> [(id: UInt64, pair: Pair)] {
        defer { dirty.removeAll() }
        return dirty.compactMap { id in pairs[id].map { (id, $0) } }
    }
}
