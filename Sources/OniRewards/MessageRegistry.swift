import OniCore

/// The learner's table of game messages: interned ids, global occurrence
/// counts and labels. Ids are stable for the life of a run directory.
public struct MessageRegistry: Sendable {
    /// One interned message.
    public struct Entry: Sendable, Hashable {
        public var text: String
        public var count: Int64
        public var firstSeenEnvSteps: UInt64
        /// 1 or 0 once the annotator has labelled it.
        public var label: Float?
        /// How sure the model was of `label` (log-probability mode: P of the answer given; else 1).
        public var confidence: Float = 1
    }

    private var ids: [String: UInt64] = [:]
    public private(set) var entries: [UInt64: Entry] = [:]
    private var nextID: UInt64 = 1
    /// Ids whose count or existence changed since `takeDirty()`.
    private var dirty: Set<UInt64> = []

    public init() {}

    /// Number of distinct messages.
    public var count: Int { entries.count }
    /// Number of messages with a label.
    public private(set) var labelledCount = 0
    /// Number labelled 1 (progress).
    public private(set) var positiveCount = 0

    /// Restores a message from the store (keeps its id).
    public mutating func restore(id: UInt64, text: String, count: Int64, firstSeenEnvSteps: UInt64, label: Float?, confidence: Float = 1) {
        ids[text] = id
        entries[id] = Entry(text: text, count: count, firstSeenEnvSteps: firstSeenEnvSteps, label: nil)
        nextID = max(nextID, id + 1)
        if let label { setLabel(id, label, confidence: confidence) }
    }

    /// Interns `text`, adding `occurrences` to its count. Returns its id and whether it is new.
    public mutating func observe(_ text: String, occurrences: Int64, envSteps: UInt64) -> (id: UInt64, isNew: Bool) {
        if let id = ids[text] {
            entries[id]!.count += occurrences
            dirty.insert(id)
            return (id, false)
        }
        let id = nextID
        nextID += 1
        ids[text] = id
        entries[id] = Entry(text: text, count: occurrences, firstSeenEnvSteps: envSteps, label: nil)
        dirty.insert(id)
        return (id, true)
    }

    public func id(of text: String) -> UInt64? { ids[text] }
    public func entry(_ id: UInt64) -> Entry? { entries[id] }

    /// Records a label and the model's confidence in it (replacing an older one).
    public mutating func setLabel(_ id: UInt64, _ label: Float, confidence: Float = 1) {
        guard var entry = entries[id] else { return }
        if let old = entry.label {
            labelledCount -= 1
            if old > 0.5 { positiveCount -= 1 }
        }
        entry.label = label
        entry.confidence = confidence.isFinite ? min(max(confidence, 0), 1) : 1
        entries[id] = entry
        labelledCount += 1
        if label > 0.5 { positiveCount += 1 }
    }

    /// The ids changed since the last call, for the store.
    public mutating func takeDirty() -> [UInt64] {
        defer { dirty.removeAll(keepingCapacity: true) }
        return dirty.sorted()
    }
}
