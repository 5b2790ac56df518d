/// A message the LLM labelled: a training example of the classifier.
public struct LabelledMessage: Sendable, Equatable {
    public var text: String
    /// 1 progress, 0 not.
    public var label: Float
    /// How much the example counts in the loss (the LLM's confidence in the label).
    public var weight: Float

    public init(text: String, label: Float, weight: Float = 1) {
        self.text = text
        self.label = label
        self.weight = weight
    }
}

/// A pair of messages the LLM compared: a training example of the ranker.
public struct JudgedPair: Sendable, Equatable {
    public var first: String
    public var second: String
    /// 1 the first shows more progress, 0 the second, 0.5 a tie.
    public var preference: Float

    public init(first: String, second: String, preference: Float) {
        self.first = first
        self.second = second
        self.preference = preference
    }
}

/// The examples a reward model trains on, and those it is measured on: every tenth (by the
/// message's or pair's id, stable across restarts) is held out. The learner and
/// `oni replay fit-reward` both build their examples here, so they hold out the same ones.
public struct RewardExamples<Example: Sendable>: Sendable {
    public var train: [Example] = []
    public var heldOut: [Example] = []

    public init() {}

    /// Whether the message or pair `id` is held out.
    public static func isHeldOut(_ id: UInt64) -> Bool { id % 10 == 0 }

    public mutating func add(_ example: Example, id: UInt64) {
        if Self.isHeldOut(id) { heldOut.append(example) } else { train.append(example) }
    }
}

extension RewardExamples where Example == LabelledMessage {
    /// Every labelled message of `messages`, weighted by the LLM's confidence.
    public init(labelsOf messages: MessageRegistry) {
        for (id, entry) in messages.entries.sorted(by: { $0.key < $1.key }) {
            guard let label = entry.label else { continue }
            add(LabelledMessage(text: entry.text, label: label, weight: entry.confidence), id: id)
        }
    }
}

extension RewardExamples where Example == JudgedPair {
    /// Every judged pair of `pairs` whose messages `messages` knows.
    public init(judgementsOf pairs: PairTable, messages: MessageRegistry) {
        for (id, pair) in pairs.pairs.sorted(by: { $0.key < $1.key }) {
            guard let preference = pair.preference, let a = messages.entry(pair.first)?.text, let b = messages.entry(pair.second)?.text else {
                continue
            }
            add(JudgedPair(first: a, second: b, preference: preference), id: id)
        }
    }
}
