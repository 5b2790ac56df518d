import Foundation
import Logging
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An `LLMBackend` that talks to any server implementing the OpenAI
/// chat-completions API (vLLM, llama.cpp's `llama-server`, Ollama, FastChat).
///
/// Each completion is a `POST <baseURL>/chat/completions` with
/// `{model, messages, max_tokens, temperature}` (plus `logprobs`/`top_logprobs`
/// when the first token's alternatives are asked for). At most
/// `maxConcurrentRequests` requests are in flight at once; retryable failures
/// are retried with capped exponential backoff and full jitter.
public final class OpenAICompatibleBackend: LLMBackend {
    /// The configuration this backend was created with.
    public let config: LLMServerConfig
    /// The chat-completions endpoint every request is sent to.
    public let endpoint: URL

    private let session: URLSession
    private let slots: AsyncSemaphore
    private let logger: Logger
    private let counters = Mutex(LLMBackendStats())
    /// The per-attempt deadline in seconds, `config.timeoutSeconds` made safe to sleep on.
    private let timeout: Double

    /// The model name sent with each request.
    public var model: String { config.model }

    /// The request counters so far.
    public var stats: LLMBackendStats { counters.withLock { $0 } }

    /// Creates a backend with its own ephemeral `URLSession`.
    ///
    /// - Parameters:
    ///   - config: where the server is and how hard to push it.
    ///   - logger: receives a warning for every retried failure.
    public init(config: LLMServerConfig, logger: Logger = Logger(label: "oni.annotation.llm")) {
        self.config = config
        self.endpoint = config.baseURL.appendingPathComponent("chat/completions")
        self.logger = logger
        self.slots = AsyncSemaphore(permits: max(1, config.maxConcurrentRequests))

        self.timeout = Self.effectiveTimeout(config.timeoutSeconds)

        let sessionConfig = URLSessionConfiguration.ephemeral
        // swift-corelibs-foundation truncates request timeouts to whole
        // seconds (0.5 s becomes an immediate timeout), so the session gets a
        // rounded-up backstop and `send` enforces the exact deadline itself.
        sessionConfig.timeoutIntervalForRequest = Self.sessionTimeout(timeout)
        sessionConfig.requestCachePolicy = .reloadIgnoringLocalCacheData
        sessionConfig.urlCache = nil
        sessionConfig.httpMaximumConnectionsPerHost = max(1, config.maxConcurrentRequests)
        self.session = URLSession(configuration: sessionConfig)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    /// Sends the conversation and returns `choices[0].message.content` (and, when asked
    /// for, `choices[0].logprobs.content[0].top_logprobs`).
    ///
    /// Retryable errors (see `LLMError.isRetryable`) are retried up to
    /// `config.maxRetries` times; others are thrown at once.
    public func complete(_ request: CompletionRequest) async throws(LLMError) -> Completion {
        let body: Data
        do {
            body = try JSONEncoder().encode(
                RequestBody(
                    model: config.model, messages: request.messages, maxTokens: request.maxTokens ?? config.maxTokens,
                    temperature: request.temperature ?? config.temperature, logprobs: request.alternatives > 0 ? true : nil,
                    topLogprobs: request.alternatives > 0 ? request.alternatives : nil))
        } catch {
            counters.withLock { $0.failures += 1 }
            throw .badResponse("request could not be encoded: \(error)")
        }

        var retry = 0
        while true {
            do throws(LLMError) {
                return try await attempt(body, alternatives: request.alternatives)
            } catch let failure {
                guard failure.isRetryable, retry < max(0, config.maxRetries), !Task.isCancelled else {
                    counters.withLock { $0.failures += 1 }
                    throw failure
                }
                retry += 1
                let delay = backoffDelay(forRetry: retry)
                logger.warning(
                    "LLM request failed; retrying",
                    metadata: [
                        "error": "\(failure)",
                        "retry": "\(retry)/\(config.maxRetries)",
                        "delay_s": "\(String(format: "%.3f", delay))",
                        "endpoint": "\(endpoint.absoluteString)",
                    ])
                do {
                    try await Task.sleep(for: .seconds(delay))
                } catch {
                    // Cancelled while backing off: report the failure that caused the wait.
                    counters.withLock { $0.failures += 1 }
                    throw failure
                }
                counters.withLock { $0.retries += 1 }
            }
        }
    }

    /// A random delay in `0...min(maxRetryDelaySeconds, base * 2^(retry-1))`.
    private func backoffDelay(forRetry retry: Int) -> Double {
        let base = max(0, config.retryBaseDelaySeconds)
        let ceiling = min(LLMServerConfig.maxRetryDelaySeconds, base * pow(2, Double(retry - 1)))
        return ceiling > 0 ? Double.random(in: 0...ceiling) : 0
    }

    /// One HTTP exchange, holding a request slot until the exchange has really ended (not only
    /// until its caller gave up at the deadline: a one-slot server never gets two requests).
    private func attempt(_ body: Data, alternatives: Int) async throws(LLMError) -> Completion {
        do {
            try await slots.acquire()
        } catch {
            throw .unreachable("cancelled while waiting for a free request slot")
        }
        let clock = ContinuousClock()
        let start = clock.now
        let slots = self.slots
        let result = await send(body, alternatives: alternatives) { await slots.release() }
        let elapsed = start.duration(to: clock.now)

        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        counters.withLock {
            $0.requests += 1
            $0.cumulativeLatencyMilliseconds += milliseconds
            $0.recentLatencyMilliseconds.append(milliseconds)
        }
        return try result.get()
    }

    /// `seconds` clamped to a positive, finite deadline; 60 s when it is not a number.
    private static func effectiveTimeout(_ seconds: Double) -> Double {
        seconds.isNaN ? 60 : min(max(seconds, 0.001), 1_000_000)
    }

    /// The URLSession's own timeout: whole seconds, later than the exact deadline.
    private static func sessionTimeout(_ seconds: Double) -> Double {
        seconds.rounded(.up) + 1
    }

    /// One HTTP exchange raced against the deadline. The caller gets whichever comes first; an
    /// exchange that lost goes on until the server answers or the session's own (later) timeout
    /// ends it, and `ended` runs then. It is not cancelled: cancelling a URLSession task from a
    /// Swift task's cancellation can deadlock FoundationNetworking on Linux (seen: the canceller
    /// waiting on the session's queue while that queue waited on the task's cancellation lock).
    private func send(_ body: Data, alternatives: Int, ended: @escaping @Sendable () async -> Void) async -> Result<Completion, LLMError> {
        let deadline = timeout
        let timeoutError = LLMError.timeout(seconds: config.timeoutSeconds)
        let first = FirstResult()
        return await withCheckedContinuation { continuation in
            first.arm(continuation)
            Task {
                first.deliver(await self.exchange(body, alternatives: alternatives))
                await ended()
            }
            let timer = Task {
                try? await Task.sleep(for: .seconds(deadline))
                if !Task.isCancelled { first.deliver(.failure(timeoutError)) }
            }
            first.onDelivered { timer.cancel() }
        }
    }

    private func exchange(_ body: Data, alternatives: Int) async -> Result<Completion, LLMError> {
        var request = URLRequest(
            url: endpoint, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: Self.sessionTimeout(timeout))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let key = config.apiKey, !key.isEmpty {
            request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        }
        request.httpBody = body

        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError {
            return .failure(map(error))
        } catch is CancellationError {
            return .failure(.unreachable("request cancelled"))
        } catch {
            return .failure(.unreachable(String(describing: error)))
        }

        guard let http = response as? HTTPURLResponse else {
            return .failure(.badResponse("not an HTTP response"))
        }
        guard (200...299).contains(http.statusCode) else {
            return .failure(.http(status: http.statusCode, truncating: String(decoding: data, as: UTF8.self)))
        }
        return Self.completion(of: data, alternatives: alternatives)
    }

    /// The model `GET /models` lists: the configured name if the server serves it, else the first
    /// it lists; nil when it does not answer (within 5 s) or lists none. A completion handler and a
    /// semaphore, not `async`: the caller's thread waits, no thread of the concurrency pool does.
    public func reportedModel() -> String? {
        var request = URLRequest(url: config.baseURL.appendingPathComponent("models"), cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 5)
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let key = config.apiKey, !key.isEmpty { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        let answer = Mutex<Data?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: request) { data, response, _ in
            if (response as? HTTPURLResponse)?.statusCode == 200 { answer.withLock { $0 = data } }
            done.signal()
        }
        task.resume()
        guard done.wait(timeout: .now() + 6) == .success, let data = answer.withLock({ $0 }),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let listed = object["data"] as? [[String: Any]]
        else { return nil }
        let ids = listed.compactMap { $0["id"] as? String }.filter { !$0.isEmpty }
        return ids.contains(config.model) ? config.model : ids.first
    }

    private func map(_ error: URLError) -> LLMError {
        switch error.code {
        case .timedOut:
            return .timeout(seconds: config.timeoutSeconds)
        case .cannotConnectToHost, .cannotFindHost, .networkConnectionLost, .notConnectedToInternet, .dnsLookupFailed:
            return .unreachable("\(endpoint.absoluteString): \(Self.describe(error))")
        case .badServerResponse, .cannotParseResponse, .cannotDecodeRawData, .cannotDecodeContentData:
            return .badResponse(Self.describe(error))
        case .cancelled:
            return .unreachable("request cancelled")
        default:
            return .unreachable("\(endpoint.absoluteString): \(Self.describe(error))")
        }
    }

    private static func describe(_ error: URLError) -> String {
        "\(error.localizedDescription) (URLError \(error.code.rawValue))"
    }

    /// Extracts `choices[0].message.content` from a chat-completions body, and the first
    /// token's alternatives when `alternatives` > 0 (then a reply without them is unusable).
    static func completion(of data: Data, alternatives: Int) -> Result<Completion, LLMError> {
        let decoded: ResponseBody
        do {
            decoded = try JSONDecoder().decode(ResponseBody.self, from: data)
        } catch {
            let preview = String(decoding: data.prefix(120), as: UTF8.self)
            return .failure(.badResponse("body is not a chat-completions object: \(preview)"))
        }
        guard let first = decoded.choices.first else {
            return .failure(.badResponse("response has no choices"))
        }
        guard let content = first.message?.content else {
            return .failure(.badResponse("choices[0].message.content is missing"))
        }
        guard alternatives > 0 else { return .success(Completion(text: content)) }
        guard let top = first.logprobs?.content?.first?.topLogprobs, !top.isEmpty else {
            return .failure(.badResponse("choices[0].logprobs.content[0].top_logprobs is missing (does the server support logprobs?)"))
        }
        let sorted = top.filter { $0.logprob.isFinite || $0.logprob == -.infinity }.sorted { $0.logprob > $1.logprob }
        return .success(Completion(text: content, firstTokenAlternatives: sorted))
    }

    /// The JSON body of a chat-completions request.
    private struct RequestBody: Encodable {
        let model: String
        let messages: [ChatMessage]
        let maxTokens: Int
        let temperature: Double
        let logprobs: Bool?
        let topLogprobs: Int?

        enum CodingKeys: String, CodingKey {
            case model, messages, temperature, logprobs
            case maxTokens = "max_tokens"
            case topLogprobs = "top_logprobs"
        }
    }

    /// The part of a chat-completions response this backend reads.
    private struct ResponseBody: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable {
                let content: String?
            }
            struct LogProbabilities: Decodable {
                struct Token: Decodable {
                    let topLogprobs: [TokenAlternative]?
                    enum CodingKeys: String, CodingKey { case topLogprobs = "top_logprobs" }
                }
                let content: [Token]?
            }
            let message: Message?
            let logprobs: LogProbabilities?
        }
        let choices: [Choice]
    }
}

/// Hands the first of several racing results to a waiting continuation, once.
private final class FirstResult: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result<Completion, LLMError>, Never>?
        var delivered = false
        var cleanup: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func arm(_ continuation: CheckedContinuation<Result<Completion, LLMError>, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Runs `cleanup` once a result has been delivered (at once if one already was).
    func onDelivered(_ cleanup: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { s -> Bool in
            if s.delivered { return true }
            s.cleanup = cleanup
            return false
        }
        if runNow { cleanup() }
    }

    func deliver(_ result: Result<Completion, LLMError>) {
        let (continuation, cleanup) = state.withLock { s -> (CheckedContinuation<Result<Completion, LLMError>, Never>?, (@Sendable () -> Void)?) in
            guard !s.delivered else { return (nil, nil) }
            s.delivered = true
            defer { s.continuation = nil; s.cleanup = nil }
            return (s.continuation, s.cleanup)
        }
        continuation?.resume(returning: result)
        cleanup?()
    }
}
