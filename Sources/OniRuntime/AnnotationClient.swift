import OniCore
import OniWire

/// What the learner asks the annotator about: a message, for its label, or a pair of messages,
/// for which shows more progress.
public enum AnnotationSubject: Hashable, Sendable, CustomStringConvertible {
    case message(UInt64)
    case pair(UInt64)

    /// On the wire both travel in `AnnotationItem.message_id` (the annotator answers with the id it
    /// was given); pairs above this, far beyond any message id.
    static let pairWireBase: UInt64 = 1 << 62

    public var wireID: UInt64 {
        switch self {
        case let .message(id): id
        case let .pair(id): Self.pairWireBase + id
        }
    }

    public init(wireID: UInt64) {
        self = wireID >= Self.pairWireBase ? .pair(wireID - Self.pairWireBase) : .message(wireID)
    }

    public var description: String {
        switch self {
        case let .message(id): "message \(id)"
        case let .pair(id): "pair \(id)"
        }
    }
}

/// The learner's side of annotation, without the socket: which messages and pairs wait for an
/// answer, the requests that ask about them (most-seen first, a bounded number in flight, expired
/// and failed ones asked again), a pause after a request found no annotator, and the subjects
/// and results a reply carries.
public struct AnnotationClient: Sendable {
    public private(set) var queue: AnnotationQueue<AnnotationSubject>
    /// After a request found no annotator to take it, the next try waits until then: choosing a
    /// request scans every waiting subject, too much to repeat on every turn of the loop.
    private var retryAt = -Double.infinity
    /// Seconds to wait after a request could not be sent.
    public var retryPause = 0.25

    public init(batchSize: Int, maxInFlight: Int, timeout: Double) {
        queue = AnnotationQueue(batchSize: batchSize, maxInFlight: maxInFlight, timeout: timeout)
    }

    public mutating func ask(about subject: AnnotationSubject) { queue.enqueue(subject) }

    /// Continues a run's count of timed-out requests.
    public mutating func resume(timedOutRequests: Int) { queue.resume(timedOutRequests: timedOutRequests) }

    /// On resume: a subject the annotator had failed on `failedBefore` times waits out the backoff
    /// it had reached (from `now`) before it is asked again; one never failed on is asked at once.
    public mutating func ask(about subject: AnnotationSubject, failedBefore: Int, now: Double) {
        queue.restoreFailures(subject, attempts: failedBefore, now: now)
    }

    /// The next request to send, if one is due: waiting subjects by `priority`, each asked about
    /// with the text(s) `texts` gives (nil when it needs no answer any more, e.g. labelled by a late reply).
    public mutating func nextRequest(
        now: Double, goal: String, texts: (AnnotationSubject) -> (text: String, second: String?)?, priority: (AnnotationSubject) -> Int64
    ) -> Oni_V1_AnnotationRequest? {
        queue.expire(now: now)
        guard now >= retryAt else { return nil }
        while let next = queue.nextRequest(now: now, priority: priority) {
            let items = next.ids.compactMap { subject in texts(subject).map { AnnotationItem(messageID: subject.wireID, text: $0.text, secondText: $0.second) } }
            if items.isEmpty {
                queue.answered(next.requestID)
                continue
            }
            var request = Oni_V1_AnnotationRequest()
            request.requestID = next.requestID
            request.goal = goal
            request.items = items.map(\.wire)
            request.acceptsPartial = true
            return request
        }
        return nil
    }

    /// `request` found no annotator: its subjects wait again, and no request goes out for a moment.
    public mutating func couldNotSend(_ request: Oni_V1_AnnotationRequest, now: Double) {
        queue.unsent(request.requestID)
        retryAt = now + retryPause
    }

    /// One result of a reply: what it answers, or why it cannot be used.
    public enum Answer: Sendable {
        case result(AnnotationSubject, AnnotationResult)
        case invalid(WireConversionError)
    }

    /// Takes a reply: marks its request answered, or with a partial reply the subjects it answers
    /// (false in `expected` when the request was unknown or had timed out: a late reply, whose
    /// results are still good), and returns its results by subject.
    public mutating func take(_ reply: Oni_V1_AnnotationReply, now: Double) -> (expected: Bool, answers: [Answer]) {
        let expected =
            reply.partial
            ? queue.partlyAnswered(reply.requestID, ids: reply.results.map { AnnotationSubject(wireID: $0.messageID) }, now: now)
            : queue.answered(reply.requestID, now: now)
        let answers = reply.results.map { wire -> Answer in
            let result: AnnotationResult
            do throws(WireConversionError) {
                result = try AnnotationResult(wire: wire)
            } catch {
                return .invalid(error)
            }
            let subject = AnnotationSubject(wireID: result.messageID)
            var stored = result
            if case let .pair(id) = subject { stored.messageID = id }
            return .result(subject, stored)
        }
        return (expected, answers)
    }

    /// The annotator failed on `subject` (not the model): asked again after a backoff, or given up.
    public mutating func failed(_ subject: AnnotationSubject, now: Double) { queue.failed(subject, now: now) }
}
