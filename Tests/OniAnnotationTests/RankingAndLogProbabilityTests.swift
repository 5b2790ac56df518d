import Foundation
import OniAnnotation
import OniCore
import OniTestSupport
import Testing

@Suite struct LogProbabilityLabelTests {
    @Test func comparesTheMassOnYesAndNo() throws {
        // llama.cpp-style alternatives: several spellings of each word share the mass.
        let outcome = LogProbabilityLabel.decide([
            TokenAlternative(token: "yes", logprob: log(0.6)), TokenAlternative(token: " Yes", logprob: log(0.1)),
            TokenAlternative(token: "no", logprob: log(0.2)), TokenAlternative(token: "<", logprob: log(0.05)),
        ])
        guard case let .labelled(value, confidence) = outcome else { Issue.record("\(outcome)"); return }
        #expect(value == 1)
        #expect(abs(Double(confidence) - 0.7 / 0.9) < 1e-6)
        let negative = LogProbabilityLabel.decide([TokenAlternative(token: "No", logprob: log(0.9)), TokenAlternative(token: "yes", logprob: log(0.1))])
        #expect(negative == .labelled(value: 0, confidence: 0.9))
    }

    @Test func withoutEitherWordThereIsNoLabel() {
        for alternatives in [[], [TokenAlternative(token: "<", logprob: -0.1), TokenAlternative(token: "The", logprob: -3)],
                             [TokenAlternative(token: "yes", logprob: -.infinity)]] {
            guard case .unparseable = LogProbabilityLabel.decide(alternatives) else {
                Issue.record("\(alternatives) gave a label")
                continue
            }
        }
    }

    /// The logprob mode asks for one token with its alternatives and reads them; the label keeps a confidence.
    @Test func labelerReadsTheFirstTokensAlternativesFromTheServer() async throws {
        let server = try FakeLLMServer { message, _ in
            message.contains("key") ? .logprobs([("yes", log(0.8)), ("no", log(0.15))]) : .logprobs([("no", log(0.55)), ("yes", log(0.45))])
        }
        let backend = OpenAICompatibleBackend(
            config: LLMServerConfig(baseURL: server.baseURL, model: "fake-model", timeoutSeconds: 10, maxRetries: 0, retryBaseDelaySeconds: 0.01))
        let labeler = MessageLabeler(backend: backend, prompt: AnnotationPrompt(goal: .default, mode: .logprob))
        let results = await labeler.label([AnnotationItem(messageID: 1, text: "You find a key."), AnnotationItem(messageID: 2, text: "It's a wall.")])
        guard case let .labelled(key, keyConfidence) = results[0].outcome, case let .labelled(wall, wallConfidence) = results[1].outcome else {
            Issue.record("\(results)")
            return
        }
        #expect(key == 1 && abs(keyConfidence - 0.8 / 0.95) < 1e-5)
        #expect(wall == 0 && abs(wallConfidence - 0.55) < 1e-5)
        #expect(results[0].reply.hasPrefix("yes:-0.223"))
        #expect(results[0].promptHash == AnnotationPrompt(goal: .default, mode: .logprob).templateHash)
        #expect(AnnotationPrompt(goal: .default, mode: .logprob).templateHash != AnnotationPrompt(goal: .default).templateHash)
    }

    /// A server that ignores `logprobs` answers text only: counted as a failure, not guessed.
    @Test func aServerWithoutLogprobsGivesNoLabel() async throws {
        let server = try FakeLLMServer { _, _ in .reply("yes") }
        let backend = OpenAICompatibleBackend(
            config: LLMServerConfig(baseURL: server.baseURL, model: "fake-model", timeoutSeconds: 10, maxRetries: 0, retryBaseDelaySeconds: 0.01))
        let result = await MessageLabeler(backend: backend, prompt: AnnotationPrompt(goal: .default, mode: .logprob))
            .label(AnnotationItem(messageID: 1, text: "You find a key."))
        guard case let .backendError(reason) = result.outcome else { Issue.record("\(result.outcome)"); return }
        #expect(reason.contains("top_logprobs"))
    }

    /// A threshold chosen on held-out labels moves the decision; the confidence still gives P(yes) back,
    /// and the prompt's hash (the cache's key) tells the thresholds apart.
    @Test func aThresholdDecidesOnTheShareOfYes() {
        let alternatives = [TokenAlternative(token: "yes", logprob: log(0.4)), TokenAlternative(token: "no", logprob: log(0.6))]
        #expect(LogProbabilityLabel.decide(alternatives) == .labelled(value: 0, confidence: 0.6))
        guard case let .labelled(value, confidence) = LogProbabilityLabel.decide(alternatives, threshold: 0.35) else {
            Issue.record("no label")
            return
        }
        #expect(value == 1 && abs(confidence - 0.4) < 1e-6)
        #expect(LogProbabilityLabel.decide(alternatives, threshold: 0.45) == .labelled(value: 0, confidence: 0.6))
        let plain = AnnotationPrompt(goal: .default, mode: .logprob)
        #expect(AnnotationPrompt(goal: .default, mode: .logprob, threshold: 0.5).templateHash == plain.templateHash)
        #expect(AnnotationPrompt(goal: .default, mode: .logprob, threshold: 0.35).templateHash != plain.templateHash)
        #expect(AnnotationPrompt(goal: .default, mode: .tagged, threshold: 0.35).templateHash == AnnotationPrompt(goal: .default, mode: .tagged).templateHash)
    }
}

@Suite struct PairJudgementTests {
    @Test(arguments: [
        ("<label>first</label>", Float(1)), ("<label>second</label>", 0), ("<label>tie</label>", 0.5),
        ("Both are neutral. <label>Tie</label>", 0.5), ("<label>FIRST</label>", 1), ("second", 0), ("<label>2</label>", 0),
        ("The second message.\n<label>second</label>", 0),
    ])
    func preferencesParse(reply: String, expected: Float) {
        #expect(LabelParser.parsePreference(reply) == .labelled(value: expected, confidence: 1))
    }

    @Test(arguments: ["", "<label>yes</label>", "<label>first", "the first one, probably", "<label>third</label>"])
    func otherRepliesAreNotPreferences(reply: String) {
        guard case .unparseable = LabelParser.parsePreference(reply) else {
            Issue.record("'\(reply)' parsed")
            return
        }
    }

    /// The examples answer from the single-message labels: progress beats none, equal is a tie.
    @Test func examplesFollowTheGoal() {
        // Neighbours of the built-in examples: newt/wall, wall/key, key/noises, noises/staircase, staircase/gold.
        let answers = PairPrompt(goal: .default).examples.filter { $0.role == "assistant" }.map(\.content)
        #expect(answers == ["<label>first</label>", "<label>second</label>", "<label>first</label>", "<label>second</label>", "<label>tie</label>"])
        let gold = PairPrompt(goal: .gold).examples.filter { $0.role == "assistant" }.map(\.content)
        #expect(gold == ["<label>tie</label>", "<label>tie</label>", "<label>tie</label>", "<label>tie</label>", "<label>second</label>"])
        let messages = PairPrompt(goal: .default).messages(first: " You find a key. ", second: "It's a wall.")
        #expect(messages.last?.content == "First message: You find a key.\nSecond message: It's a wall.")
        #expect(PairPrompt(goal: .default).templateHash != PairPrompt(goal: .gold).templateHash)
    }

    /// A judge that always prefers one position says nothing about the messages: asking both
    /// orders turns its answers into ties; a judge that is consistent in one order only gives 0.75.
    @Test func positionBiasCancelsOut() async throws {
        let biased = try FakeLLMServer { _, _ in .reply("<label>first</label>") }
        let backend = OpenAICompatibleBackend(
            config: LLMServerConfig(baseURL: biased.baseURL, model: "fake-model", timeoutSeconds: 10, maxRetries: 0, retryBaseDelaySeconds: 0.01))
        let result = await MessageLabeler(backend: backend, prompt: AnnotationPrompt(goal: .default))
            .label(AnnotationItem(messageID: 3, text: "You find a key.", secondText: "It's a wall."))
        #expect(result.outcome == .labelled(value: 0.5, confidence: 1))
        #expect(biased.requestCount == 2)
        let halfSure = try FakeLLMServer { message, _ in
            .reply(message.hasPrefix("First message: You find a key.") ? "<label>first</label>" : "<label>tie</label>")
        }
        let other = OpenAICompatibleBackend(
            config: LLMServerConfig(baseURL: halfSure.baseURL, model: "fake-model", timeoutSeconds: 10, maxRetries: 0, retryBaseDelaySeconds: 0.01))
        let partial = await MessageLabeler(backend: other, prompt: AnnotationPrompt(goal: .default))
            .label(AnnotationItem(messageID: 4, text: "You find a key.", secondText: "It's a wall."))
        #expect(partial.outcome == .labelled(value: 0.75, confidence: 1))
    }

    /// A user's examples file replaces the built-in examples in both prompts (and so their hashes);
    /// a broken one is refused with the reason.
    @Test func examplesFromAVersionedFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("examples-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(#"{"version": "mine-1", "examples": [{"message": "You feel a strange vibration.", "progress_for": ["default"]}, {"message": "You hear a door open.", "progress_for": []}]}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        let mine = try FewShotExamples.load(path: path)
        #expect(mine.version == "mine-1" && mine.examples.count == 2)
        let prompt = AnnotationPrompt(goal: .default, fewShot: mine)
        #expect(prompt.examples.map(\.content) == ["Game message: You feel a strange vibration.", "<label>yes</label>", "Game message: You hear a door open.", "<label>no</label>"])
        #expect(prompt.templateHash != AnnotationPrompt(goal: .default).templateHash)
        #expect(prompt.templateText.contains("Game message: {message}"))
        #expect(PairPrompt(goal: .default, fewShot: mine).examples.count == 4)
        try Data(#"{"version": "bad", "examples": [{"message": "x", "progress_for": ["treasure"]}, {"message": "y", "progress_for": []}]}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        #expect(throws: FewShotExamplesError.invalid(path: path, reason: "example 1 names unknown goal 'treasure' (known: [\"combat\", \"default\", \"gold\", \"stairs\"])")) {
            try FewShotExamples.load(path: path)
        }
        #expect(throws: FewShotExamplesError.unreadable(path: path + ".missing")) { try FewShotExamples.load(path: path + ".missing") }
    }

    /// A pair item goes out with the pair prompt, comes back as a preference, and is cached by both texts in order.
    @Test func pairsAreJudgedAndCached() async throws {
        let server = try FakeLLMServer { message, _ in
            guard message.hasPrefix("First message:") else { return .reply("<label>yes</label>") }
            return message.hasPrefix("First message: You find a key.") ? .reply("<label>first</label>") : .reply("<label>second</label>")
        }
        let backend = OpenAICompatibleBackend(
            config: LLMServerConfig(baseURL: server.baseURL, model: "fake-model", timeoutSeconds: 10, maxRetries: 0, retryBaseDelaySeconds: 0.01))
        let cache = MemoryLabelCache()
        let labeler = MessageLabeler(backend: backend, prompt: AnnotationPrompt(goal: .default), cache: cache)
        let forward = AnnotationItem(messageID: 5, text: "You find a key.", secondText: "It's a wall.")
        let backward = AnnotationItem(messageID: 6, text: "It's a wall.", secondText: "You find a key.")
        // Each pair is asked in both orders; the second item's two questions are then in the cache.
        let results = [await labeler.label(forward), await labeler.label(backward)]
        #expect(results.map(\.outcome) == [.labelled(value: 1, confidence: 1), .labelled(value: 0, confidence: 1)])
        #expect(results[0].reply == "<label>first</label> | reversed: <label>second</label>")
        #expect(results.allSatisfy { $0.promptHash == PairPrompt(goal: .default).templateHash })
        _ = await labeler.label([forward, backward])
        #expect(server.requestCount == 2)
        // The templates behind both hashes are on record beside the labels.
        #expect(cache.prompt(hash: PairPrompt(goal: .default).templateHash)?.contains("First message: {first}") == true)
        #expect(cache.prompt(hash: AnnotationPrompt(goal: .default).templateHash)?.contains("Game message: {message}") == true)
        // The single message is a different question: not answered from the pair's entry.
        _ = await labeler.label([AnnotationItem(messageID: 7, text: "You find a key.")])
        #expect(server.requestCount == 3)
    }

    /// σ(logit p − logit q) by hand: p = 0.8, q = 0.4 → 0.8·0.6 / (0.8·0.6 + 0.4·0.2) = 6/7; equal is a tie; the
    /// order is symmetric; certain labels stay finite.
    @Test func scoresGiveTheBradleyTerryPreference() {
        #expect(abs(PairJudge.preference(0.8, 0.4) - 6.0 / 7) < 1e-6)
        #expect(abs(PairJudge.preference(0.4, 0.8) - 1.0 / 7) < 1e-6)
        #expect(PairJudge.preference(0.3, 0.3) == 0.5)
        #expect(abs(PairJudge.preference(1, 0) - 0.9999) < 1e-4)
        #expect(PairJudge.preference(1, 1) == 0.5)
        #expect(PairJudge.progressProbability(value: 1, confidence: 0.9) == Double(Float(0.9)))
        #expect(PairJudge.progressProbability(value: 0, confidence: 0.75) == 0.25)
    }

    /// With the scores judge a pair costs no pair prompt: each message is labelled alone (logprob
    /// mode here), those labels are cached as ordinary labels, and the preference follows them.
    @Test func scoresJudgeLabelsEachMessageAlone() async throws {
        let server = try FakeLLMServer { message, _ in
            if message.hasPrefix("First message:") { return .reply("<label>first</label>") }
            return message.contains("key") ? .logprobs([("yes", log(0.8)), ("no", log(0.2))]) : .logprobs([("no", log(0.6)), ("yes", log(0.4))])
        }
        let backend = OpenAICompatibleBackend(
            config: LLMServerConfig(baseURL: server.baseURL, model: "fake-model", timeoutSeconds: 10, maxRetries: 0, retryBaseDelaySeconds: 0.01))
        let cache = MemoryLabelCache()
        let prompt = AnnotationPrompt(goal: .default, mode: .logprob)
        let labeler = MessageLabeler(backend: backend, prompt: prompt, cache: cache, pairJudge: .scores)
        let result = await labeler.label(AnnotationItem(messageID: 8, text: "You find a key.", secondText: "It's a wall."))
        guard case let .labelled(value, _) = result.outcome else { Issue.record("\(result.outcome)"); return }
        #expect(abs(value - 6.0 / 7) < 1e-4)  // P(progress) 0.8 against 0.4
        #expect(result.reply.hasPrefix("first: yes:-0.223") && result.reply.contains("| second: no:-0.511"))
        #expect(result.promptHash != prompt.templateHash && result.promptHash != PairPrompt(goal: .default).templateHash)
        #expect(cache.prompt(hash: result.promptHash)?.contains(prompt.templateHash) == true)
        #expect(server.requestCount == 2)
        // The reverse pair and the single messages come from the cache.
        let reverse = await labeler.label(AnnotationItem(messageID: 9, text: "It's a wall.", secondText: "You find a key."))
        guard case let .labelled(reversed, _) = reverse.outcome else { Issue.record("\(reverse.outcome)"); return }
        #expect(abs(reversed - 1.0 / 7) < 1e-4)
        _ = await labeler.label(AnnotationItem(messageID: 10, text: "You find a key."))
        #expect(server.requestCount == 2)
    }

    /// A message the model gives no label keeps the pair unjudged: no preference is guessed.
    @Test func scoresJudgeNeedsBothLabels() async throws {
        let server = try FakeLLMServer { message, _ in
            message.contains("key") ? .logprobs([("yes", log(0.8)), ("no", log(0.2))]) : .logprobs([("The", log(0.9))])
        }
        let backend = OpenAICompatibleBackend(
            config: LLMServerConfig(baseURL: server.baseURL, model: "fake-model", timeoutSeconds: 10, maxRetries: 0, retryBaseDelaySeconds: 0.01))
        let labeler = MessageLabeler(backend: backend, prompt: AnnotationPrompt(goal: .default, mode: .logprob), pairJudge: .scores)
        let result = await labeler.label(AnnotationItem(messageID: 11, text: "You find a key.", secondText: "It's a wall."))
        guard case .unparseable = result.outcome else { Issue.record("\(result.outcome)"); return }
    }
}
