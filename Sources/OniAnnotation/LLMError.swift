/// Why a request to the LLM server failed.
public enum LLMError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server could not be reached: connection refused, host not found,
    /// connection dropped. The payload describes the failure.
    case unreachable(String)
    /// The server did not answer within the configured number of seconds.
    case timeout(seconds: Double)
    /// The server answered with a non-2xx status. `body` holds at most
    /// `LLMError.maxBodyCharacters` characters of the response body.
    case http(status: Int, body: String)
    /// The server answered 2xx, but not with an OpenAI chat-completions JSON
    /// object carrying `choices[0].message.content`.
    case badResponse(String)

    /// The most characters of an error response body kept in `http(status:body:)`.
    public static let maxBodyCharacters = 512

    /// Whether trying the same request again may succeed: unreachable servers,
    /// timeouts, HTTP 429 and 5xx are transient; other statuses and malformed
    /// responses are not.
    public var isRetryable: Bool {
        switch self {
        case .unreachable, .timeout: true
        case let .http(status, _): status == 429 || (500...599).contains(status)
        case .badResponse: false
        }
    }

    /// An `http` error whose body is cut to `maxBodyCharacters` characters.
    static func http(status: Int, truncating body: String) -> LLMError {
        .http(status: status, body: body.count > maxBodyCharacters ? String(body.prefix(maxBodyCharacters)) : body)
    }

    public var description: String {
        switch self {
        case let .unreachable(detail): "LLM server unreachable: \(detail)"
        case let .timeout(seconds): "LLM request timed out after \(seconds) s"
        case let .http(status, body): body.isEmpty ? "LLM server returned HTTP \(status)" : "LLM server returned HTTP \(status): \(body)"
        case let .badResponse(detail): "LLM server sent an unusable response: \(detail)"
        }
    }
}
