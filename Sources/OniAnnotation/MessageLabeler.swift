import OniCore
import Synchronization

/// Labels game messages by asking an LLM backend, one prompt per message, and
/// compares pairs of messages (ranking) with the goal's `PairPrompt`.
public struct MessageLabeler: Sendable {
    /// The server (or test double) that answers the prompts.
    public let backend: any LLMBackend
    /// The prompt every message is asked with.
    public let prompt: AnnotationPrompt
    /// Labels already given for this model, prompt and goal (across runs); nil asks every time.
    public let cache: (any LabelCache)?

    /// Creates a labeler that asks `backend` with `prompt`, answering from `cache` when it can,
    /// and compares pairs as `pairJudge` says.
    public init(backend: any LLMBackend, prompt: AnnotationPrompt, cache: (any LabelCache)? = nil, pairJudge: PairJudge = .prompt) {
        self.backend = backend
        self.prompt = prompt
        self.pairJudge = pairJudge
        self.pairPrompt = PairPrompt(goal: prompt.goal, fewShot: prompt.fewShot, style: prompt.style)
        pairScoresHash = String(SHA256.hex(PairJudge.scoresVersion + "\n" + prompt.templateHash).prefix(16))
        cache?.recordPrompt(hash: prompt.templateHash, template: prompt.templateText)
        switch pairJudge {
        case .prompt: cache?.recordPrompt(hash: pairPrompt.templateHash, template: pairPrompt.templateText)
        case .scores:
            cache?.recordPrompt(
                hash: pairScoresHash,
                template: "\(PairJudge.scoresVersion): σ(logit P(progress | first) − logit P(progress | second)), each from \(prompt.templateHash)")
        }
        self.cache = cache
    }

    /// Compares pairs (items with a second text) when `pairJudge` is `.prompt`.
    public let pairPrompt: PairPrompt
    /// How pairs are compared.
    public let pairJudge: PairJudge
    /// The hash stored with pairs judged by `.scores`.
    private let pairScoresHash: String
    /// Questions being asked now, shared by every copy of this labeler: a question asked again
    /// while the LLM is still answering it (a re-sent request, the same message in two requests,
    /// both orders of pairs that share a message) waits for that answer instead of asking again.
    private let inFlight = InFlightQuestions()

    private func key(_ item: AnnotationItem) -> LabelCacheKey {
        if let second = item.secondText {
            // U+241E (symbol for record separator) never appears in game messages.
            return LabelCacheKey(model: backend.model, promptHash: pairPrompt.templateHash, goal: prompt.goal.text, message: item.text + "\u{241E}" + second)
        }
        return LabelCacheKey(model: backend.model, promptHash: prompt.templateHash, goal: prompt.goal.text, message: item.text)
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

    /// The alternatives as the reply kept for audit: `yes:-0.105 no:-2.303 …`.
    static func describe(_ alternatives: [TokenAlternative]) -> String {
        alternatives.map { "\($0.token.debugDescription.dropFirst().dropLast()):\(String(format: "%.3f", $0.logprob))" }
            .joined(separator: " ")
    }

    /// Labels one item. A reply without a recognisable label is asked again
    /// once; if the second reply is no better the outcome is `.unparseable`.
    /// A backend failure gives `.backendError` with the error's description.
    ///
    /// A pair is asked in both orders — small models often prefer a position
    /// whatever the messages say — and the preference is the mean of the two
    /// answers (`first` in one order and `second` in the other is a tie), so it is
    /// one of 0, 0.25, 0.5, 0.75 and 1.
    ///
    /// With `PairJudge.scores` each message of a pair is labelled on its own instead (see there).
    public func label(_ item: AnnotationItem) async -> AnnotationResult {
        guard let second = item.secondText else {
            let (outcome, reply) = await askMessage(item)
            return AnnotationResult(messageID: item.messageID, outcome: outcome, model: backend.model, promptHash: prompt.templateHash, reply: reply)
        }
        if pairJudge == .scores { return await compareScores(item, second) }
        let forward = await ask(item)
        let backward = await ask(AnnotationItem(messageID: item.messageID, text: second, secondText: item.text))
        let reply = String("\(forward.reply) | reversed: \(backward.reply)".prefix(AnnotationResult.maxReplyCharacters))
        let outcome = Self.preference(forward.outcome, backward.outcome) { a, _, b, _ in (a + (1 - b)) / 2 }
        return AnnotationResult(messageID: item.messageID, outcome: outcome, model: backend.model, promptHash: pairPrompt.templateHash, reply: reply)
    }

    /// A pair decided from the single-message labels of its two messages.
    private func compareScores(_ item: AnnotationItem, _ second: String) async -> AnnotationResult {
        let a = await askMessage(AnnotationItem(messageID: item.messageID, text: item.text))
        let b = await askMessage(AnnotationItem(messageID: item.messageID, text: second))
        let reply = String("first: \(a.reply) | second: \(b.reply)".prefix(AnnotationResult.maxReplyCharacters))
        let outcome = Self.preference(a.outcome, b.outcome) { v1, c1, v2, c2 in
            PairJudge.preference(PairJudge.progressProbability(value: v1, confidence: c1), PairJudge.progressProbability(value: v2, confidence: c2))
        }
        return AnnotationResult(messageID: item.messageID, outcome: outcome, model: backend.model, promptHash: pairScoresHash, reply: reply)
    }

    /// A preference from the two answers behind a pair: `combine(value₁, confidence₁, value₂,
    /// confidence₂)` when both are labels; otherwise the failure (a backend error before an
    /// unparseable reply), since no preference is guessed from one answer.
    private static func preference(_ first: LabelOutcome, _ second: LabelOutcome, _ combine: (Float, Float, Float, Float) -> Float) -> LabelOutcome {
        switch (first, second) {
        case let (.labelled(v1, c1), .labelled(v2, c2)): .labelled(value: combine(v1, c1, v2, c2), confidence: 1)
        case let (.backendError(reason), _), let (_, .backendError(reason)): .backendError(reason: reason)
        case let (.unparseable(reason), _), let (_, .unparseable(reason)): .unparseable(reason: reason)
        case let (.disagreed(reason), _), let (_, .disagreed(reason)): .disagreed(reason: reason)
        }
    }

    /// A game message's answer: its one question, or, when the prompt asks sentence by sentence
    /// (`LabelUnit.sentence`), each sentence's (concurrently; each cached on its own) combined by
    /// `anySentence`.
    private func askMessage(_ item: AnnotationItem) async -> (outcome: LabelOutcome, reply: String) {
        guard prompt.unit == .sentence else { return await ask(item) }
        let questions = prompt.questions(in: item.text)
        guard questions.count > 1 else { return await ask(AnnotationItem(messageID: item.messageID, text: questions[0])) }
        let answers = await withTaskGroup(of: (Int, (outcome: LabelOutcome, reply: String)).self) { group in
            for (index, question) in questions.enumerated() {
                group.addTask { (index, await self.ask(AnnotationItem(messageID: item.messageID, text: question))) }
            }
            var answers = [(outcome: LabelOutcome, reply: String)](repeating: (.unparseable(reason: "not asked"), ""), count: questions.count)
            for await (index, answer) in group { answers[index] = answer }
            return answers
        }
        let reply = zip(questions, answers).map { "[\($0)] \($1.reply)" }.joined(separator: " ")
        return (Self.anySentence(answers.map(\.outcome)), String(reply.prefix(AnnotationResult.maxReplyCharacters)))
    }

    /// One label for a message from its sentences' answers: the labelled answer with the highest
    /// P(yes) when that one says progress (a failed sentence cannot undo a found kill); otherwise a
    /// failure if any sentence failed (a backend error first, so the message is asked again), else
    /// the labelled answer with the highest P(yes), a "no" whose confidence is 1 − that P(yes).
    /// P(yes) is read back from a label as `value ≥ 0.5 ? confidence : 1 − confidence`.
    public static func anySentence(_ outcomes: [LabelOutcome]) -> LabelOutcome {
        var best: (yes: Float, outcome: LabelOutcome)?
        for outcome in outcomes {
            guard case let .labelled(value, confidence) = outcome else { continue }
            let yes = value >= 0.5 ? confidence : 1 - confidence
            if best == nil || yes > best!.yes { best = (yes, outcome) }
        }
        if let best, case let .labelled(value, _) = best.outcome, value >= 0.5 { return best.outcome }
        if let failure = outcomes.first(where: { if case .backendError = $0 { true } else { false } }) { return failure }
        if let failure = outcomes.first(where: { if case .labelled = $0 { false } else { true } }) { return failure }
        return best?.outcome ?? .unparseable(reason: "no sentence")
    }

    /// One question — a message, or a pair in the given order — answered from the cache or
    /// asked (a second time if the first reply had no label); labels are cached.
    private func ask(_ item: AnnotationItem) async -> (outcome: LabelOutcome, reply: String) {
        let key = key(item)
        if let cached = cache?.label(for: key) {
            return (.labelled(value: cached.value, confidence: cached.confidence), cached.reply)
        }
        let (task, asking) = inFlight.join(key) { Task { await self.askLLM(item, key: key) } }
        let answer = await task.value
        if asking { inFlight.finish(key) }
        return answer
    }

    /// Asks the LLM (a second time if the first reply had no label) and caches a label.
    private func askLLM(_ item: AnnotationItem, key: LabelCacheKey) async -> (outcome: LabelOutcome, reply: String) {
        let messages = item.secondText.map { pairPrompt.messages(first: item.text, second: $0) } ?? prompt.messages(for: item.text)
        var lastReply = ""
        var outcome = LabelOutcome.unparseable(reason: "no reply")
        for _ in 0..<2 {
            do {
                switch item.secondText == nil ? prompt.mode : .tagged {
                case .tagged where item.secondText != nil:
                    lastReply = try await backend.complete(
                        CompletionRequest(messages: messages, maxTokens: prompt.replyTokens, temperature: prompt.temperature)).text
                    outcome = pairPrompt.parse(lastReply)
                case .tagged:
                    lastReply = try await backend.complete(
                        CompletionRequest(messages: messages, maxTokens: prompt.replyTokens, temperature: prompt.temperature)).text
                    outcome = prompt.parse(lastReply)
                case .logprob:
                    let completion = try await backend.complete(
                        CompletionRequest(messages: messages, maxTokens: 1, alternatives: LogProbabilityLabel.alternativesToRequest))
                    lastReply = Self.describe(completion.firstTokenAlternatives)
                    outcome = LogProbabilityLabel.decide(completion.firstTokenAlternatives, threshold: prompt.threshold)
                }
            } catch {
                outcome = .backendError(reason: error.description)
                break
            }
            if case .labelled = outcome { break }
        }
        let reply = String(lastReply.prefix(AnnotationResult.maxReplyCharacters))
        if case let .labelled(value, confidence) = outcome {
            cache?.store(CachedLabel(value: value, confidence: confidence, reply: reply), for: key)
        }
        return (outcome, reply)
    }
}

/// The LLM questions in flight, by cache key: one call per distinct question at a time.
final class InFlightQuestions: Sendable {
    typealias Answer = Task<(outcome: LabelOutcome, reply: String), Never>
    private let tasks = Mutex<[LabelCacheKey: Answer]>([:])

    /// The task answering `key`: the one in flight, or (second value true) the one `start` makes,
    /// which the caller must `finish` once answered.
    func join(_ key: LabelCacheKey, start: () -> Answer) -> (Answer, Bool) {
        tasks.withLock { tasks in
            if let running = tasks[key] { return (running, false) }
            let task = start()
            tasks[key] = task
            return (task, true)
        }
    }

    func finish(_ key: LabelCacheKey) { _ = tasks.withLock { $0.removeValue(forKey: key) } }

    /// Questions being asked now.
    var count: Int { tasks.withLock { $0.count } }
}
