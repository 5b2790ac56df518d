import Foundation
import OniAnnotation
import OniCore
import OniTestSupport
import Testing

@Suite struct MessageLabelerTests {
    /// A backend for `server`: model "fake-model", four requests at once, one quick retry.
    static func backend(_ server: FakeLLMServer) -> OpenAICompatibleBackend {
        OpenAICompatibleBackend(
            config: LLMServerConfig(
                baseURL: server.baseURL, model: "fake-model", timeoutSeconds: 10, maxRetries: 1, maxConcurrentRequests: 4,
                retryBaseDelaySeconds: 0.01))
    }

    private static func labeler(_ server: FakeLLMServer) -> (MessageLabeler, OpenAICompatibleBackend) {
        let backend = Self.backend(server)
        return (MessageLabeler(backend: backend, prompt: AnnotationPrompt(goal: .default)), backend)
    }

    @Test func unparseableReplyIsAskedAgainOnce() async throws {
        let server = try FakeLLMServer { _, number in .reply(number == 1 ? "I think so" : "<label>yes</label>") }
        let (labeler, _) = Self.labeler(server)

        let results = await labeler.label([AnnotationItem(messageID: 7, text: "You kill the newt!")])
        let result = try #require(results.first)
        #expect(result.messageID == 7)
        #expect(result.outcome == .labelled(value: 1, confidence: 1))
        #expect(result.model == "fake-model")
        #expect(result.promptHash == AnnotationPrompt(goal: .default).templateHash)
        #expect(result.reply == "<label>yes</label>")
        #expect(server.requestCount == 2)
        #expect(server.receivedMessages.allSatisfy { $0.contains("You kill the newt!") })
    }

    /// A message labelled once is answered from the cache afterwards, by another labeler too
    /// (a later run); other goals, prompts or models ask again; unparseable replies are not kept.
    @Test func theCacheAnswersRepeatedQuestions() async throws {
        let server = try FakeLLMServer { message, _ in .reply(message.contains("key") ? "<label>yes</label>" : "maybe") }
        let backend = Self.backend(server)
        let cache = MemoryLabelCache()
        let first = MessageLabeler(backend: backend, prompt: AnnotationPrompt(goal: .default), cache: cache)
        let key = AnnotationItem(messageID: 1, text: "You find a key."), wall = AnnotationItem(messageID: 2, text: "It's a wall.")
        _ = await first.label([key, wall])
        #expect(server.requestCount == 3)  // the key once, the wall twice (unparseable, asked again)
        let later = MessageLabeler(backend: backend, prompt: AnnotationPrompt(goal: .default), cache: cache)
        let again = await later.label([AnnotationItem(messageID: 9, text: "You find a key.")])
        #expect(again.first?.outcome == .labelled(value: 1, confidence: 1) && again.first?.messageID == 9)
        #expect(again.first?.reply == "<label>yes</label>" && again.first?.promptHash == AnnotationPrompt(goal: .default).templateHash)
        #expect(server.requestCount == 3)
        _ = await later.label([wall])
        #expect(server.requestCount == 5)  // never cached
        _ = await MessageLabeler(backend: backend, prompt: AnnotationPrompt(goal: .gold), cache: cache).label([key])
        #expect(server.requestCount == 6)
        #expect(cache.lookups.hits == 1 && cache.lookups.misses == 4)
    }

    /// The same question asked again while the LLM is answering it (a re-sent request, one message
    /// in two requests) waits for that answer: one LLM call, every asker answered under its own id.
    @Test func aQuestionInFlightIsAskedOnce() async throws {
        let server = try FakeLLMServer { _, _ in .hang(seconds: 0.3) }
        let (labeler, _) = Self.labeler(server)
        async let first = labeler.label([AnnotationItem(messageID: 1, text: "You see a newt."), AnnotationItem(messageID: 2, text: "You see a newt.")])
        async let second = labeler.label([AnnotationItem(messageID: 3, text: "You see a newt.")])
        let results = await first + second
        #expect(results.map(\.messageID) == [1, 2, 3])
        #expect(results.allSatisfy { $0.outcome == .labelled(value: 0, confidence: 1) }, "\(results)")
        #expect(server.requestCount == 1)
        // Once answered it is asked again (no cache here): only questions in flight are shared.
        _ = await labeler.label([AnnotationItem(messageID: 4, text: "You see a newt.")])
        #expect(server.requestCount == 2)
    }

    @Test func unparseableTwiceGivesUp() async throws {
        let server = try FakeLLMServer { _, _ in .reply("<label>maybe</label>") }
        let (labeler, _) = Self.labeler(server)

        let result = try #require(await labeler.label([AnnotationItem(messageID: 1, text: "It's a wall.")]).first)
        guard case .unparseable = result.outcome else {
            Issue.record("expected unparseable, got \(result.outcome)")
            return
        }
        #expect(result.reply == "<label>maybe</label>")
        #expect(server.requestCount == 2)
    }

    @Test func backendFailureIsReported() async throws {
        let server = try FakeLLMServer { _, _ in .status(401) }
        let (labeler, _) = Self.labeler(server)

        let result = try #require(await labeler.label([AnnotationItem(messageID: 3, text: "You find a key.")]).first)
        guard case let .backendError(reason) = result.outcome else {
            Issue.record("expected backendError, got \(result.outcome)")
            return
        }
        #expect(reason.contains("401"))
        #expect(result.reply.isEmpty)
        #expect(server.requestCount == 1)
    }

    @Test func orderIsPreserved() async throws {
        // Odd-numbered messages get "yes", even ones "no"; replies arrive in
        // whatever order the server finishes them.
        let server = try FakeLLMServer { message, number in
            let digits = message.reversed().prefix { $0.isNumber }
            let index = Int(String(digits.reversed())) ?? -1
            if number % 3 == 0 { Thread.sleep(forTimeInterval: 0.02) }
            return .reply(index % 2 == 1 ? "<label>yes</label>" : "<label>no</label>")
        }
        let (labeler, backend) = Self.labeler(server)
        let items = (0..<20).map { AnnotationItem(messageID: UInt64(1000 + $0), text: "Message number \($0)") }

        let results = await labeler.label(items)
        #expect(results.count == 20)
        for (index, result) in results.enumerated() {
            #expect(result.messageID == UInt64(1000 + index))
            #expect(result.outcome == .labelled(value: index % 2 == 1 ? 1 : 0, confidence: 1))
        }
        #expect(server.requestCount == 20)
        #expect(server.maxConcurrent <= 4)
        #expect(backend.stats.requests == 20)
    }

    @Test func emptyInputGivesNoResults() async throws {
        let server = try FakeLLMServer { _, _ in .reply("<label>yes</label>") }
        let (labeler, _) = Self.labeler(server)
        #expect(await labeler.label([]).isEmpty)
        #expect(server.requestCount == 0)
    }
}
