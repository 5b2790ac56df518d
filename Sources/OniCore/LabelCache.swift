import Synchronization

/// A label an LLM gave a message, kept so that the same question is never asked twice.
public struct CachedLabel: Sendable, Hashable {
    /// 1 (progress) or 0.
    public var value: Float
    public var confidence: Float
    /// The model's reply, as stored with the label.
    public var reply: String

    public init(value: Float, confidence: Float, reply: String) {
        self.value = value
        self.confidence = confidence
        self.reply = reply
    }
}

/// What identifies a question to the LLM: the model, the exact prompt template, the goal and the message.
public struct LabelCacheKey: Sendable, Hashable {
    public var model: String
    public var promptHash: String
    public var goal: String
    public var message: String

    public init(model: String, promptHash: String, goal: String, message: String) {
        self.model = model
        self.promptHash = promptHash
        self.goal = goal
        self.message = message
    }
}

/// Labels kept across runs (the annotator's seam to its cache).
public protocol LabelCache: Sendable {
    /// The stored label for `key`, if any (counted as a hit or a miss).
    func label(for key: LabelCacheKey) -> CachedLabel?
    /// Keeps `label` for `key`, replacing an older one.
    func store(_ label: CachedLabel, for key: LabelCacheKey)
    /// Lookups answered from the cache, and not.
    var lookups: (hits: Int, misses: Int) { get }
    /// Keeps the prompt template a hash stands for (labels name templates by hash).
    func recordPrompt(hash: String, template: String)
}

/// A cache in memory, for tests and for runs that keep nothing on disk.
public final class MemoryLabelCache: LabelCache {
    private let state = Mutex<(labels: [LabelCacheKey: CachedLabel], hits: Int, misses: Int)>(([:], 0, 0))

    public init() {}

    public func label(for key: LabelCacheKey) -> CachedLabel? {
        state.withLock { s in
            let found = s.labels[key]
            if found == nil { s.misses += 1 } else { s.hits += 1 }
            return found
        }
    }

    public func store(_ label: CachedLabel, for key: LabelCacheKey) {
        state.withLock { $0.labels[key] = label }
    }

    public var lookups: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }

    private let templates = Mutex<[String: String]>([:])

    public func recordPrompt(hash: String, template: String) {
        templates.withLock { $0[hash] = template }
    }

    /// The template recorded for `hash`.
    public func prompt(hash: String) -> String? { templates.withLock { $0[hash] } }
}
