import Foundation
import Logging
import OniAnnotation
import OniCore
import OniRuntime
import OniTransport
import OniTestSupport
import OniWire
import Testing

/// The annotator over an in-memory channel, with a judge in the test.
/// Async tests that wait with `Task.sleep`: a test blocking a thread of Swift's concurrency pool
/// (two threads on two cores) would starve the annotator's labelling tasks.
@Suite(.serialized) struct AnnotatorServerTests {
    /// Counts its calls; calls a message progress when it mentions a key.
    final class CountingJudge: LLMBackend, @unchecked Sendable {
        let calls = NSLock()
        var count = 0
        let delay: Duration
        init(delay: Duration = .milliseconds(20)) { self.delay = delay }
        var model: String { "counting-judge" }
        func complete(_ request: CompletionRequest) async throws(LLMError) -> Completion {
            calls.withLock { count += 1 }
            try? await Task.sleep(for: delay)
            let asked = request.messages.last?.content ?? ""
            return Completion(text: asked.contains("key") ? "<label>yes</label>" : "<label>no</label>", firstTokenAlternatives: [])
        }
    }

    /// One request of `texts` through an annotator over an in-memory channel: of the server at
    /// `llm` (model "default", with `cache`), or of `backend`; its results, in order.
    static func ask(_ texts: [String], llm: URL, backend: (any LLMBackend)? = nil, cache: String? = nil) async throws -> [AnnotationResult] {
        let replies = try await replies(texts, llm: llm, backend: backend, cache: cache)
        let results = try replies.flatMap { try $0.results.map { try AnnotationResult(wire: $0) } }
        return results.sorted { $0.messageID < $1.messageID }
    }

    /// The replies to one request of `texts` (see `ask`), the last one whole; partial replies
    /// every `partialReplySeconds`.
    static func replies(
        _ texts: [String], llm: URL, backend: (any LLMBackend)? = nil, cache: String? = nil, partialReplySeconds: Double = 10,
        acceptsPartial: Bool = true
    ) async throws -> [Oni_V1_AnnotationReply] {
        let transport = InMemoryTransport()
        var config = AnnotatorConfig(llm: LLMServerConfig(baseURL: llm, model: "default", maxRetries: 0))
        config.bind = "mem://annotator"
        config.cachePath = cache
        config.partialReplySeconds = partialReplySeconds
        let stop = StopSignal()
        nonisolated(unsafe) let server = AnnotatorServer(config: config, transport: transport, stop: stop, logger: Logger(label: "test"), backend: backend)
        let thread = Thread { try? server.run() }
        thread.start()
        defer { stop.stop(reason: "asked") }
        let learner = try MessageChannel(
            transport: transport, type: .dealer, .connect("mem://annotator"), name: "learner", accepts: [.annotationReply, .heartbeat],
            logger: Logger(label: "test"))
        var request = Oni_V1_AnnotationRequest()
        request.requestID = 1
        request.goal = "default"
        request.items = texts.enumerated().map { AnnotationItem(messageID: UInt64($0.offset + 1), text: $0.element).wire }
        request.acceptsPartial = acceptsPartial
        // Generous: the annotator labels in tasks of Swift's concurrency pool, which the suite's
        // other tests, run at the same time on two cores, can hold for minutes (200 s and more seen).
        let deadline = Date().addingTimeInterval(600)
        while try !learner.send(.annotationRequest(request), dontWait: true) && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        var replies: [Oni_V1_AnnotationReply] = []
        repeat {
            if case let .annotationReply(reply)? = try learner.receive(timeoutMilliseconds: 0) {
                replies.append(reply)
                if !reply.partial { return replies }
            }
            try await Task.sleep(for: .milliseconds(20))
        } while Date() < deadline
        return replies
    }

    /// A judge slower than the partial-reply interval: what is finished comes back in parts, every
    /// item exactly once over the replies, only the last one whole.
    @Test func aSlowRequestIsAnsweredInParts() async throws {
        let judge = CountingJudge(delay: .milliseconds(150))
        let texts = (0..<12).map { "You see thing \($0)." }
        let replies = try await Self.replies(
            texts, llm: URL(string: "http://unused.invalid/v1")!, backend: judge, partialReplySeconds: 0.05)
        #expect(replies.count >= 2, "\(replies.map(\.results.count))")
        #expect(replies.dropLast().allSatisfy(\.partial) && replies.last?.partial == false)
        let ids = replies.flatMap { $0.results.map(\.messageID) }
        #expect(ids.sorted() == Array(1...12), "every item once")
        #expect(replies.allSatisfy { $0.requestID == 1 })
        // A learner that does not take parts (an earlier version) gets one whole reply.
        let whole = try await Self.replies(
            texts, llm: URL(string: "http://unused.invalid/v1")!, backend: CountingJudge(delay: .milliseconds(150)), partialReplySeconds: 0.05,
            acceptsPartial: false)
        #expect(whole.count == 1 && whole.first?.partial == false && whole.first?.results.count == 12)
    }

    /// Two servers both configured as "default" but serving different models never answer with
    /// each other's cached labels: labels are cached and recorded under the model each reports.
    @Test func labelsAreCachedUnderTheModelTheServerReports() async throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("oni-cache-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: cache + suffix) } }
        let yes = try FakeLLMServer(models: ["qwen-a"]) { _, _ in .reply("<label>yes</label>") }
        let no = try FakeLLMServer(models: ["llama-b"]) { _, _ in .reply("<label>no</label>") }
        defer { yes.stop(); no.stop() }
        let first = try await Self.ask(["You find a key."], llm: yes.baseURL, cache: cache)
        #expect(first.first?.outcome == .labelled(value: 1, confidence: 1) && first.first?.model == "qwen-a", "\(first)")
        let other = try await Self.ask(["You find a key."], llm: no.baseURL, cache: cache)
        #expect(other.first?.outcome == .labelled(value: 0, confidence: 1) && other.first?.model == "llama-b", "\(other)")
        #expect(no.requestCount == 1, "asked, not answered from the other model's cache")
        let again = try await Self.ask(["You find a key."], llm: yes.baseURL, cache: cache)
        #expect(again.first?.outcome == .labelled(value: 1, confidence: 1) && yes.requestCount == 1, "its own cache answers")
    }

    /// ONI asks about 100 messages per request: every one is labelled (none answered as an error),
    /// and a message asked twice in one request costs one LLM call.
    @Test func everyItemOfALargeRequestIsLabelled() async throws {
        let judge = CountingJudge()
        let texts = (0..<100).map { $0 == 50 ? "You find a key." : $0 == 99 ? "You see thing 3." : "You see thing \($0)." }
        let results = try await Self.ask(texts, llm: URL(string: "http://unused.invalid/v1")!, backend: judge)
        #expect(results.count == 100)
        #expect(results.allSatisfy { if case .labelled = $0.outcome { true } else { false } }, "\(results.filter { if case .labelled = $0.outcome { false } else { true } })")
        #expect(results.first { $0.messageID == 51 }?.outcome == .labelled(value: 1, confidence: 1))
        #expect(judge.calls.withLock { judge.count } == 99, "the repeated message asked once")
    }
}
