import OniCore

/// Labels game messages by asking an LLM backend, one prompt per message.
public struct MessageLabeler: Sendable {
    /// The server (or test double) that answers the prompts.
    public let backend: any LLMBackend
    /// The prompt every message is asked with.
    public let prompt: AnnotationPrompt
    /// Labels already given for this model, prompt and goal (across runs); nil asks every time.
    public let cache: (any LabelCache)?

    /// Creates a labeler that asks `backend` with `prompt`, answering from `cache` when it can.
    public init(backend: any LLMBackend, prompt: AnnotationPrompt, cache: (any LabelCache)? = nil) {
        self.backend = backend
        self.prompt = prompt
        self.cache = cache
    }

    private func key(_ text: String) -> LabelCacheKey {
        LabelCacheKey(model: backend.model, promptHash: prompt.templateHash, goal: prompt.goal.text, message: text)
    }

    /// Labels every item concurrently and returns one result per item, in the
    /// order of `items`. How many requests actually run at once is up to the
    /// backend (`OpenAICompatibleBackend` honours `maxConcurrentRequests`).
    public func label(_ items: [AnnotationItem]) async -> [AnnotationResult] {
        guard !items.isEmpty else { return [] }
        return await withTaskGroup(of: (Int, AnnotationResult).self, returning: [AnnotationResult].self) { group in
            for (index, item) in items.enumerated() {
                group.addTask { (index, await self.label(item)) }
            }
            var results = [AnnotationResult?](repeating: nil, count: items.count)
            for await (index, result) in group {
                results[index] = result
            }
            return results.enumerated().map { index, result in
                result ?? AnnotationResult(
                    messageID: items[index].messageID, outcome: .backendError(reason: "labelling task produced no result"),
                    model: backend.model, promptHash: prompt.templateHash, reply: "")
            }
        }
    }

    /// Labels one item. A reply without a recognisable label is asked again
    /// once; if the second reply is no better the outcome is `.unparseable`.
    /// A backend failure gives `.backendError` with the error's description.
    public func label(_ item: AnnotationItem) async -> AnnotationResult {
        if let cached = cache?.label(for: key(item.text)) {
            return AnnotationResult(
                messageID: item.messageID, outcome: .labelled(value: cached.value, confidence: cached.confidence), model: backend.model,
                promptHash: prompt.templateHash, reply: cached.reply)
        }
        let messages = prompt.messages(for: item.text)
        var lastReply = ""
        var outcome = LabelOutcome.unparseable(reason: "no reply")
        for _ in 0..<2 {
            do {
                lastReply = try await backend.complete(messages)
            } catch {
                outcome = .backendError(reason: error.description)
                break
            }
            outcome = LabelParser.parse(lastReply)
            if case .labelled = outcome { break }
        }
        let reply = String(lastReply.prefix(AnnotationResult.maxReplyCharacters))
        if case let .labelled(value, confidence) = outcome {
            cache?.store(CachedLabel(value: value, confidence: confidence, reply: reply), for: key(item.text))
        }
        return AnnotationResult(messageID: item.messageID, outcome: outcome, model: backend.model, promptHash: prompt.templateHash, reply: reply)
    }
}
