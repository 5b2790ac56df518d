import Foundation

/// How to reach an OpenAI-compatible chat-completions server (vLLM,
/// llama.cpp's `llama-server`, Ollama, FastChat, …) and how hard to push it.
public struct LLMServerConfig: Sendable, Equatable {
    /// The OpenAI-compatible API base, for example `http://127.0.0.1:8080/v1`.
    /// Requests go to `baseURL` + `/chat/completions`.
    public var baseURL: URL
    /// The model name sent in every request. Servers that host a single model
    /// usually ignore it.
    public var model: String
    /// The bearer token sent as `Authorization: Bearer <apiKey>`; `nil` or
    /// empty sends no `Authorization` header.
    public var apiKey: String?
    /// Seconds to wait for the server before an attempt fails with
    /// `LLMError.timeout`.
    public var timeoutSeconds: Double
    /// How many times a retryable failure (refused connection, timeout, HTTP
    /// 429 or 5xx) is retried before the error is reported. 0 disables retries.
    public var maxRetries: Int
    /// The most requests one backend keeps in flight at the same time.
    public var maxConcurrentRequests: Int
    /// The `max_tokens` sent with each request. A label needs only a few tokens.
    public var maxTokens: Int
    /// The sampling temperature sent with each request; 0 asks for greedy decoding.
    public var temperature: Double
    /// The first retry's backoff ceiling in seconds. Each later retry doubles
    /// it, up to `LLMServerConfig.maxRetryDelaySeconds`; the actual delay is
    /// drawn uniformly from zero to the ceiling ("full jitter").
    public var retryBaseDelaySeconds: Double

    /// The largest backoff ceiling between two attempts, in seconds.
    public static let maxRetryDelaySeconds: Double = 8

    /// Creates a configuration; every limit has a conservative default.
    public init(
        baseURL: URL,
        model: String = "default",
        apiKey: String? = nil,
        timeoutSeconds: Double = 60,
        maxRetries: Int = 3,
        maxConcurrentRequests: Int = 4,
        maxTokens: Int = 16,
        temperature: Double = 0,
        retryBaseDelaySeconds: Double = 0.25
    ) {
        self.baseURL = baseURL
        self.model = model
        self.apiKey = apiKey
        self.timeoutSeconds = timeoutSeconds
        self.maxRetries = maxRetries
        self.maxConcurrentRequests = maxConcurrentRequests
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.retryBaseDelaySeconds = retryBaseDelaySeconds
    }

    /// Reads a configuration from environment variables:
    ///
    /// - `ONI_LLM_BASE_URL`: the API base (required), e.g. `http://127.0.0.1:8080/v1`;
    /// - `ONI_LLM_MODEL`: the model name, `"default"` when unset;
    /// - `ONI_LLM_API_KEY`, falling back to `OPENAI_API_KEY`: the bearer token.
    ///
    /// Returns `nil` when `ONI_LLM_BASE_URL` is unset, empty, or not an
    /// absolute `http`/`https` URL. All other settings keep their defaults.
    public static func fromEnvironment(_ env: [String: String]) -> LLMServerConfig? {
        func value(_ name: String) -> String? {
            guard let raw = env[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else { return nil }
            return raw
        }
        guard let base = value("ONI_LLM_BASE_URL"),
              let url = URL(string: base),
              let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host != nil
        else { return nil }
        return LLMServerConfig(
            baseURL: url,
            model: value("ONI_LLM_MODEL") ?? "default",
            apiKey: value("ONI_LLM_API_KEY") ?? value("OPENAI_API_KEY"))
    }
}
