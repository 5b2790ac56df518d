import OniCore

/// Which messages to send to the annotator, and when. Messages without a
/// label go out by priority (the learner's: how often a message has been seen),
/// newest first among equals; each is in at most one request at a time; a
/// request unanswered after `timeout` seconds puts its messages back. A
/// message whose labelling failed on the server side is retried after an
/// exponential backoff, capped, for as long as the run lives: no message is given up.
///
/// Times are seconds on a monotonic clock chosen by the caller.
public struct AnnotationQueue<ID: Hashable & Sendable>: Sendable {
    /// Messages per request.
    public var batchSize: Int
    /// Requests in flight at most.
    public var maxInFlight: Int
    /// Seconds before an unanswered request is given up and its messages requeued.
    public var timeout: Double

    private var waiting: [ID] = []  // oldest first
    private var waitingSet: Set<ID> = []
    private var inFlight: [UInt64: (ids: [ID], sentAt: Double)] = [:]
    private var pendingSet: Set<ID> = []
    private var nextRequestID: UInt64 = 1
    private var failures: [ID: Int] = [:]
    private var deferred: [(id: ID, notBefore: Double, failedAt: Double)] = []

    /// Backoff after the first failure; doubles per failure up to `maxBackoff`.
    public var firstBackoff = 5.0
    public var maxBackoff = 300.0

    /// Requests given up after the timeout, so far.
    public private(set) var timedOutRequests = 0

    /// Continues a run's count of timed-out requests.
    public mutating func resume(timedOutRequests: Int) { self.timedOutRequests = timedOutRequests }

    public init(batchSize: Int, maxInFlight: Int, timeout: Double) {
        self.batchSize = batchSize
        self.maxInFlight = maxInFlight
        self.timeout = timeout
    }

    /// Messages waiting to be sent (including those backing off after a failure).
    public var waitingCount: Int { waiting.count + deferred.count }
    /// Messages in requests not yet answered.
    public var pendingCount: Int { pendingSet.count }
    /// Requests not yet answered.
    public var inFlightCount: Int { inFlight.count }

    /// Adds a message that needs a label (ignored if already waiting or pending).
    public mutating func enqueue(_ id: ID) {
        guard !waitingSet.contains(id), !pendingSet.contains(id), !deferred.contains(where: { $0.id == id }) else { return }
        waiting.append(id)
        waitingSet.insert(id)
    }

    /// The next request to send, if a slot is free: (request id, message ids by `priority`,
    /// highest first, newest first among equals; without one, newest first).
    ///
    /// Newest first alone lets a message seen early and often wait for ever behind the stream
    /// of new ones whenever the LLM labels more slowly than new messages appear (NetHack with
    /// the local model: "You kill the newt!", seen 4,134 times, was never asked about in 4 M steps).
    public mutating func nextRequest(now: Double, priority: (ID) -> Int64 = { _ in 0 }) -> (requestID: UInt64, ids: [ID])? {
        if !deferred.isEmpty {
            let due = deferred.filter { $0.notBefore <= now }
            deferred.removeAll { $0.notBefore <= now }
            for entry in due { enqueue(entry.id) }
        }
        guard inFlight.count < maxInFlight, !waiting.isEmpty else { return nil }
        // The best `batchSize` by (priority, position in the list), one pass.
        var best: [(priority: Int64, index: Int)] = []
        for (index, id) in waiting.enumerated() {
            let p = priority(id)
            guard best.count < batchSize || (p, index) > (best[best.count - 1].priority, best[best.count - 1].index) else { continue }
            let at = best.firstIndex { (p, index) > ($0.priority, $0.index) } ?? best.count
            best.insert((p, index), at: at)
            if best.count > batchSize { best.removeLast() }
        }
        let ids = best.map { waiting[$0.index] }
        for index in best.map(\.index).sorted(by: >) { waiting.remove(at: index) }
        waitingSet.subtract(ids)
        let requestID = nextRequestID
        nextRequestID += 1
        inFlight[requestID] = (ids, now)
        pendingSet.formUnion(ids)
        return (requestID, ids)
    }

    /// Gives back a request that could not be sent (its messages wait again, as the newest).
    public mutating func unsent(_ requestID: UInt64) {
        guard let request = inFlight.removeValue(forKey: requestID) else { return }
        pendingSet.subtract(request.ids)
        for id in request.ids.reversed() where !waitingSet.contains(id) {
            waiting.append(id)
            waitingSet.insert(id)
        }
    }

    /// Marks a request answered. Returns false for an unknown or timed-out request.
    /// With `now`, the request's round trip is added to `roundTripSeconds`.
    @discardableResult
    public mutating func answered(_ requestID: UInt64, now: Double? = nil) -> Bool {
        guard let request = inFlight.removeValue(forKey: requestID) else { return false }
        pendingSet.subtract(request.ids)
        if let now { roundTripSeconds.append(now - request.sentAt) }
        return true
    }

    /// Takes part of a request's answer: `ids` are answered (no longer pending), the rest stay
    /// pending, and the request's timeout starts again from `now` (it measures silence, so a
    /// large request to a slow annotator that keeps answering is never given up). Returns false
    /// for an unknown or timed-out request.
    @discardableResult
    public mutating func partlyAnswered(_ requestID: UInt64, ids: [ID], now: Double) -> Bool {
        guard var request = inFlight[requestID] else { return false }
        let done = Set(ids)
        // Only this request's own subjects: an id it never held may be pending in another request.
        pendingSet.subtract(request.ids.filter { done.contains($0) })
        request.ids.removeAll { done.contains($0) }
        request.sentAt = now
        inFlight[requestID] = request
        return true
    }

    /// Seconds from sending a request to its answer, last 256 answered requests.
    public private(set) var roundTripSeconds = RollingWindow(capacity: 256)

    /// Records that labelling `id` failed on the server side: it is asked about again after
    /// `firstBackoff`, doubling per failure up to `maxBackoff`. Returns the delay.
    @discardableResult
    public mutating func failed(_ id: ID, now: Double) -> Double {
        let attempts = failures[id, default: 0] + 1
        failures[id] = attempts
        let delay = min(maxBackoff, firstBackoff * Double(1 << min(attempts - 1, 20)))
        waiting.removeAll { $0 == id }
        waitingSet.remove(id)
        deferred.removeAll { $0.id == id }
        deferred.append((id, now + delay, now))
        return delay
    }

    /// Takes back, on resume, that `id` had failed `attempts` times: it waits the backoff of its
    /// last failure from `now` (instead of being asked at once, as a message never tried is).
    public mutating func restoreFailures(_ id: ID, attempts: Int, now: Double) {
        guard attempts > 0 else { return enqueue(id) }
        failures[id] = attempts - 1
        failed(id, now: now)
    }

    /// Subjects waiting out a backoff after a failure, and the longest any of them has waited
    /// since its last failure (seconds).
    public func backingOff(now: Double) -> (count: Int, longestSeconds: Double) {
        (deferred.count, deferred.map { now - $0.failedAt }.max() ?? 0)
    }

    /// Requeues the messages of requests older than `timeout`; returns how many requests expired.
    @discardableResult
    public mutating func expire(now: Double) -> Int {
        let expired = inFlight.filter { now - $0.value.sentAt > timeout }.keys.sorted()
        for requestID in expired { unsent(requestID) }
        timedOutRequests += expired.count
        return expired.count
    }
}
