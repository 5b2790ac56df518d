import Foundation
import OniAnnotation
import OniCore
import OniTestSupport
import Testing

@Suite struct OpenAICompatibleBackendTests {
    private static let question = [ChatMessage.system("Answer yes or no."), .user("Is this a test?")]

    private static func config(
        _ server: FakeLLMServer, timeout: Double = 10, retries: Int = 3, concurrency: Int = 4
    ) -> LLMServerConfig {
        LLMServerConfig(
            baseURL: server.baseURL, model: "fake-model", apiKey: "secret", timeoutSeconds: timeout, maxRetries: retries,
            maxConcurrentRequests: concurrency, retryBaseDelaySeconds: 0.01)
    }

    /// Runs `body`, expecting an `LLMError`; returns it, or nil (recording an issue) on success.
    private static func expectFailure(
        _ body: () async throws(LLMError) -> String, sourceLocation: SourceLocation = #_sourceLocation
    ) async -> LLMError? {
        do {
            let reply = try await body()
            Issue.record("expected an error, got reply \(reply)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    @Test func happyPath() async throws {
        let server = try FakeLLMServer { message, _ in .reply(message == "Is this a test?" ? "<label>yes</label>" : "<label>no</label>") }
        let backend = OpenAICompatibleBackend(config: Self.config(server))

        let reply = try await backend.complete(Self.question)
        #expect(reply == "<label>yes</label>")
        #expect(server.requestCount == 1)
        #expect(server.receivedMessages == ["Is this a test?"])
        #expect(backend.model == "fake-model")
        #expect(backend.endpoint.absoluteString == "http://127.0.0.1:\(server.port)/v1/chat/completions")

        let stats = backend.stats
        #expect(stats.requests == 1)
        #expect(stats.retries == 0)
        #expect(stats.failures == 0)
        #expect(stats.cumulativeLatencyMilliseconds > 0)
    }

    @Test func keepAliveConnectionServesManyRequests() async throws {
        let server = try FakeLLMServer { _, number in .reply("reply \(number)") }
        let backend = OpenAICompatibleBackend(config: Self.config(server, concurrency: 1))
        for expected in 1...5 {
            #expect(try await backend.complete(Self.question) == "reply \(expected)")
        }
        #expect(server.requestCount == 5)
    }

    @Test func serverErrorIsRetried() async throws {
        let server = try FakeLLMServer { _, number in number == 1 ? .status(500) : .reply("<label>no</label>") }
        let backend = OpenAICompatibleBackend(config: Self.config(server))

        #expect(try await backend.complete(Self.question) == "<label>no</label>")
        #expect(server.requestCount == 2)
        #expect(backend.stats.retries == 1)
        #expect(backend.stats.requests == 2)
        #expect(backend.stats.failures == 0)
    }

    @Test func retriesStopAfterMaxRetries() async throws {
        let server = try FakeLLMServer { _, _ in .status(503) }
        let backend = OpenAICompatibleBackend(config: Self.config(server, retries: 2))

        let error = await Self.expectFailure { () throws(LLMError) in try await backend.complete(Self.question) }
        guard case let .http(status, body) = error else {
            Issue.record("expected an HTTP error, got \(String(describing: error))")
            return
        }
        #expect(status == 503)
        #expect(body.contains("fake_error"))
        #expect(server.requestCount == 3)
        #expect(backend.stats.failures == 1)
    }

    @Test func tooManyRequestsIsRetried() async throws {
        let server = try FakeLLMServer { _, number in number < 3 ? .status(429) : .reply("ok") }
        let backend = OpenAICompatibleBackend(config: Self.config(server))
        #expect(try await backend.complete(Self.question) == "ok")
        #expect(server.requestCount == 3)
    }

    @Test func clientErrorIsNotRetried() async throws {
        let server = try FakeLLMServer { _, _ in .status(400) }
        let backend = OpenAICompatibleBackend(config: Self.config(server))

        let error = await Self.expectFailure { () throws(LLMError) in try await backend.complete(Self.question) }
        guard case let .http(status, _) = error else {
            Issue.record("expected an HTTP error, got \(String(describing: error))")
            return
        }
        #expect(status == 400)
        #expect(error?.isRetryable == false)
        #expect(server.requestCount == 1)
        #expect(backend.stats.retries == 0)
    }

    @Test func garbageIsABadResponse() async throws {
        let server = try FakeLLMServer { _, _ in .garbage }
        let backend = OpenAICompatibleBackend(config: Self.config(server))

        let error = await Self.expectFailure { () throws(LLMError) in try await backend.complete(Self.question) }
        guard case .badResponse = error else {
            Issue.record("expected badResponse, got \(String(describing: error))")
            return
        }
        #expect(server.requestCount == 1)
    }

    @Test func unreachablePort() async throws {
        let closed = try FakeLLMServer { _, _ in .reply("unused") }
        let port = closed.port
        closed.stop()

        let config = LLMServerConfig(
            baseURL: try #require(URL(string: "http://127.0.0.1:\(port)/v1")), model: "fake-model", timeoutSeconds: 5,
            maxRetries: 1, retryBaseDelaySeconds: 0.01)
        let backend = OpenAICompatibleBackend(config: config)

        let error = await Self.expectFailure { () throws(LLMError) in try await backend.complete(Self.question) }
        guard case .unreachable = error else {
            Issue.record("expected unreachable, got \(String(describing: error))")
            return
        }
        #expect(backend.stats.requests == 2)
        #expect(backend.stats.retries == 1)
    }

    @Test func slowServerTimesOut() async throws {
        // The answer comes far past the deadline (the server stops hanging when the test ends): on
        // a loaded machine the deadline's task can wait seconds for a thread, and must still win.
        let server = try FakeLLMServer { _, _ in .hang(seconds: 60) }
        let backend = OpenAICompatibleBackend(config: Self.config(server, timeout: 0.5, retries: 0))

        let error = await Self.expectFailure { () throws(LLMError) in try await backend.complete(Self.question) }
        // A timeout, not the server's late answer.
        #expect(error == .timeout(seconds: 0.5))
        #expect(backend.stats.failures == 1)
        #expect(server.requestCount == 1)
    }

    @Test func concurrencyLimitIsRespected() async throws {
        let server = try FakeLLMServer { _, _ in .hang(seconds: 0.15) }
        let backend = OpenAICompatibleBackend(config: Self.config(server, concurrency: 2))

        let replies = await withTaskGroup(of: String?.self, returning: [String?].self) { group in
            for _ in 0..<8 {
                group.addTask { try? await backend.complete(Self.question) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(replies.count == 8)
        #expect(replies.allSatisfy { $0 == "<label>no</label>" })
        #expect(server.requestCount == 8)
        #expect(server.maxConcurrent <= 2)
        #expect(server.maxConcurrent >= 1)
    }

    @Test func unknownPathIsNotFound() async throws {
        let server = try FakeLLMServer { _, _ in .reply("unused") }
        var config = Self.config(server)
        config.baseURL = try #require(URL(string: "http://127.0.0.1:\(server.port)/v2"))
        let backend = OpenAICompatibleBackend(config: config)

        let error = await Self.expectFailure { () throws(LLMError) in try await backend.complete(Self.question) }
        guard case .http(404, _) = error else {
            Issue.record("expected HTTP 404, got \(String(describing: error))")
            return
        }
        #expect(server.requestCount == 0)
    }

    @Test func errorClassification() {
        #expect(LLMError.unreachable("refused").isRetryable)
        #expect(LLMError.timeout(seconds: 1).isRetryable)
        #expect(LLMError.http(status: 429, body: "").isRetryable)
        #expect(LLMError.http(status: 502, body: "").isRetryable)
        #expect(!LLMError.http(status: 401, body: "").isRetryable)
        #expect(!LLMError.http(status: 404, body: "").isRetryable)
        #expect(!LLMError.badResponse("html").isRetryable)
        #expect(LLMError.http(status: 500, body: "boom").description.contains("500"))
    }

    @Test func configFromEnvironment() throws {
        #expect(LLMServerConfig.fromEnvironment([:]) == nil)
        #expect(LLMServerConfig.fromEnvironment(["ONI_LLM_BASE_URL": "  "]) == nil)
        #expect(LLMServerConfig.fromEnvironment(["ONI_LLM_BASE_URL": "not a url"]) == nil)

        let plain = try #require(LLMServerConfig.fromEnvironment(["ONI_LLM_BASE_URL": "http://127.0.0.1:8080/v1"]))
        #expect(plain.baseURL.absoluteString == "http://127.0.0.1:8080/v1")
        #expect(plain.model == "default")
        #expect(plain.apiKey == nil)
        #expect(plain.timeoutSeconds == 60)
        #expect(plain.maxRetries == 3)
        #expect(plain.maxConcurrentRequests == 4)
        #expect(plain.maxTokens == 16)
        #expect(plain.temperature == 0)
        #expect(plain.retryBaseDelaySeconds == 0.25)

        let fallback = try #require(LLMServerConfig.fromEnvironment([
            "ONI_LLM_BASE_URL": "http://gpu-box:8000/v1", "ONI_LLM_MODEL": "qwen", "OPENAI_API_KEY": "sk-fallback",
        ]))
        #expect(fallback.model == "qwen")
        #expect(fallback.apiKey == "sk-fallback")

        let preferred = try #require(LLMServerConfig.fromEnvironment([
            "ONI_LLM_BASE_URL": "https://llm.example/v1", "ONI_LLM_API_KEY": "sk-oni", "OPENAI_API_KEY": "sk-fallback",
        ]))
        #expect(preferred.apiKey == "sk-oni")
    }
}
