import OniCore

/// A snapshot of an LLM backend's request counters.
public struct LLMBackendStats: Sendable, Equatable {
    /// HTTP requests sent, retries included.
    public var requests: Int
    /// Requests that were retries of a failed attempt.
    public var retries: Int
    /// Completions that ended in an error after all retries.
    public var failures: Int
    /// Total wall-clock time of all HTTP requests, in milliseconds. Time spent
    /// waiting for a free request slot or backing off is not included.
    public var cumulativeLatencyMilliseconds: Double
    /// The wall-clock times of the last 1,024 HTTP requests, in milliseconds, for percentiles.
    public var recentLatencyMilliseconds = RollingWindow(capacity: 1024)

    /// Creates a snapshot; all counters default to zero.
    public init(requests: Int = 0, retries: Int = 0, failures: Int = 0, cumulativeLatencyMilliseconds: Double = 0) {
        self.requests = requests
        self.retries = retries
        self.failures = failures
        self.cumulativeLatencyMilliseconds = cumulativeLatencyMilliseconds
    }

    /// Mean wall-clock time of one HTTP request in milliseconds; 0 before the first request.
    public var meanLatencyMilliseconds: Double {
        requests == 0 ? 0 : cumulativeLatencyMilliseconds / Double(requests)
    }
}
