/// Of the message occurrences of the last `window` env steps, the share whose message had an LLM
/// label when the learner took it in (`messages/labelled_occurrence_share`): how much of what
/// the agent is paid for rests on the LLM's own judgement rather than on the reward model's
/// generalisation. Kept in buckets of a tenth of the window, so the figure covers between 90%
/// and 100% of the window.
public struct LabelCoverage: Sendable {
    public let window: UInt64
    private struct Bucket: Sendable {
        var first: UInt64
        var labelled: Int64
        var total: Int64
    }
    private var buckets: [Bucket] = []

    public init(window: UInt64 = 100_000) {
        precondition(window >= 10, "LabelCoverage: a window of at least 10 steps")
        self.window = window
    }

    /// Occurrences taken in at `envSteps` (the count after the rollout), `labelled` of them of
    /// messages with a label.
    public mutating func record(labelled: Int64, total: Int64, envSteps: UInt64) {
        let width = window / 10, first = envSteps / width * width
        let oldest = envSteps >= window ? envSteps - window : 0
        buckets.removeAll { $0.first + width <= oldest }
        guard total > 0 else { return }
        if let last = buckets.last, last.first == first {
            buckets[buckets.count - 1].labelled += labelled
            buckets[buckets.count - 1].total += total
        } else {
            buckets.append(Bucket(first: first, labelled: labelled, total: total))
        }
    }

    /// The share over the window (nil when it holds no occurrence).
    public var share: Double? {
        let total = buckets.reduce(0) { $0 + $1.total }
        return total > 0 ? Double(buckets.reduce(0) { $0 + $1.labelled }) / Double(total) : nil
    }
}
