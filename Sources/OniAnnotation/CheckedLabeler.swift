import OniCore

/// Whether a message's label must agree with itself before it is kept (the idea of
/// consistency-filtered self-rewarding, as in CREAM).
public enum LabelCheck: String, CaseIterable, Sendable {
    /// One asking; its answer is the label.
    case none
    /// Asked two ways — the label mode and the other mode (tagged and log-probability) — and kept
    /// only when both say the same; otherwise left unlabelled as disagreed.
    case agree
    /// Asked three ways — those two and the label mode with the few-shot examples in the reverse
    /// order — and decided by the majority of the answers that gave a label.
    case vote
}

/// A labeller that asks each message as many ways as its `LabelCheck` says (pairs are always
/// asked the one way). A message whose answers disagree is left unlabelled: its outcome is
/// `.disagreed` (its own status on the wire and in the store, with the answers as the reason),
/// which the annotator counts as `annotator/disagreements` and the learner settles (never
/// retried: it would ask the same questions again).
public struct CheckedLabeler: Sendable {
    public let check: LabelCheck
    /// The labeller of the configured mode; it answers pairs and gives the reported prompt hash.
    public let primary: MessageLabeler
    private let others: [MessageLabeler]

    public init(backend: any LLMBackend, prompt: AnnotationPrompt, cache: (any LabelCache)?, pairJudge: PairJudge = .prompt, check: LabelCheck) {
        self.check = check
        primary = MessageLabeler(backend: backend, prompt: prompt, cache: cache, pairJudge: pairJudge)
        let other = AnnotationPrompt(goal: prompt.goal, mode: prompt.mode == .tagged ? .logprob : .tagged, fewShot: prompt.fewShot, threshold: prompt.threshold, unit: prompt.unit)
        let reversed = AnnotationPrompt(
            goal: prompt.goal, mode: prompt.mode,
            fewShot: FewShotExamples(version: prompt.fewShot.version + "-reversed", examples: prompt.fewShot.examples.reversed()), threshold: prompt.threshold, unit: prompt.unit)
        switch check {
        case .none: others = []
        case .agree: others = [MessageLabeler(backend: backend, prompt: other, cache: cache)]
        case .vote: others = [MessageLabeler(backend: backend, prompt: other, cache: cache), MessageLabeler(backend: backend, prompt: reversed, cache: cache)]
        }
    }

    /// Labels every item (concurrently, as `MessageLabeler` does), one result per item in order.
    public func label(_ items: [AnnotationItem]) async -> [AnnotationResult] {
        guard check != .none else { return await primary.label(items) }
        return await withTaskGroup(of: (Int, AnnotationResult).self, returning: [AnnotationResult].self) { group in
            for (index, item) in items.enumerated() { group.addTask { (index, await self.label(item)) } }
            var results = [AnnotationResult?](repeating: nil, count: items.count)
            for await (index, result) in group { results[index] = result }
            return results.enumerated().map { index, result in
                result ?? AnnotationResult(
                    messageID: items[index].messageID, outcome: .backendError(reason: "labelling task produced no result"),
                    model: primary.backend.model, promptHash: primary.prompt.templateHash, reply: "")
            }
        }
    }

    /// Labels `items` and hands the results to `send`: all at once when `every` is 0, else as
    /// they finish, what is done every `every` seconds (partial), the rest with the last.
    public func label(
        _ items: [AnnotationItem], partEvery every: Double,
        send: @escaping @Sendable (_ results: [AnnotationResult], _ partial: Bool) -> Void
    ) async {
        guard every > 0, !items.isEmpty else { return send(await label(items), false) }
        await withTaskGroup(of: AnnotationResult.self) { group in
            for item in items { group.addTask { await self.label(item) } }
            var done: [AnnotationResult] = [], remaining = items.count, lastSent = ContinuousClock.now
            for await result in group {
                done.append(result)
                remaining -= 1
                guard remaining == 0 || lastSent.duration(to: .now) >= .seconds(every) else { continue }
                send(done, remaining > 0)
                done.removeAll()
                lastSent = ContinuousClock.now
            }
        }
    }

    public func label(_ item: AnnotationItem) async -> AnnotationResult {
        let first = await primary.label(item)
        guard check != .none, item.secondText == nil else { return first }
        var answers = [first]
        for labeler in others { answers.append(await labeler.label(item)) }
        var result = first
        result.outcome = Self.decide(answers.map(\.outcome), check: check, modes: [primary.prompt.mode] + others.map(\.prompt.mode))
        result.reply = String(answers.map(\.reply).joined(separator: " | ").prefix(AnnotationResult.maxReplyCharacters))
        return result
    }

    /// The outcome of several answers to one message.
    public static func decide(_ outcomes: [LabelOutcome], check: LabelCheck, modes: [LabelMode]) -> LabelOutcome {
        let labels = outcomes.compactMap { outcome -> (value: Float, confidence: Float)? in
            if case let .labelled(value, confidence) = outcome { return (value, confidence) }
            return nil
        }
        if check == .agree || labels.count < 2 {
            // Every answer must be a label, and they must agree.
            for outcome in outcomes {
                if case .backendError = outcome { return outcome }
            }
            guard labels.count == outcomes.count else {
                return outcomes.first { if case .unparseable = $0 { true } else { false } } ?? .unparseable(reason: "no label")
            }
        }
        let yes = labels.filter { $0.value >= 0.5 }, no = labels.filter { $0.value < 0.5 }
        let described = zip(modes, outcomes).map { mode, outcome in
            if case let .labelled(value, _) = outcome { return "\(mode.rawValue) \(value >= 0.5 ? "yes" : "no")" }
            return "\(mode.rawValue) none"
        }.joined(separator: ", ")
        let winners: [(value: Float, confidence: Float)]
        switch check {
        case .agree, .none:
            guard yes.isEmpty || no.isEmpty else { return .disagreed(reason: described) }
            winners = labels
        case .vote:
            guard yes.count != no.count else { return .disagreed(reason: described) }
            winners = yes.count > no.count ? yes : no
        }
        let value: Float = winners[0].value >= 0.5 ? 1 : 0
        return .labelled(value: value, confidence: winners.map(\.confidence).min() ?? 1)
    }
}
