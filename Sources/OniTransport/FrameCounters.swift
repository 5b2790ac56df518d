import Synchronization

/// Thread-safe counts of frames sent, received and refused (by reason).
public final class FrameCounters: Sendable {
    private struct State {
        var sent = 0
        var received = 0
        var refused: [String: Int] = [:]
        var tooLarge = 0
    }

    private let state = Mutex(State())

    public init() {}

    func countSent() { state.withLock { $0.sent += 1 } }
    @discardableResult
    func countTooLarge() -> Int { state.withLock { $0.tooLarge += 1; return $0.tooLarge } }
    func countReceived() { state.withLock { $0.received += 1 } }

    /// Counts a refused frame; returns how many of this reason there are now.
    @discardableResult
    func countRefused(_ reason: String) -> Int {
        state.withLock { s in
            s.refused[reason, default: 0] += 1
            return s.refused[reason]!
        }
    }

    /// Frames sent so far.
    public var sent: Int { state.withLock { $0.sent } }
    /// Valid frames received so far.
    public var received: Int { state.withLock { $0.received } }
    /// Refused frames so far, by `FrameError.counterName`.
    public var refused: [String: Int] { state.withLock { $0.refused } }
    /// Messages not sent because they were over the frame limit (`TransportError.tooLarge`).
    public var tooLarge: Int { state.withLock { $0.tooLarge } }
    /// All refused frames.
    public var refusedTotal: Int { state.withLock { $0.refused.values.reduce(0, +) } }
}

/// How often a repeated refusal is logged: the first few of each kind, then one in a thousand,
/// so a flood of bad input cannot flood the log.
enum LogThrottle {
    static func shouldLog(_ count: Int) -> Bool { count <= 5 || count % 1000 == 0 }
}
