import CZeroMQ

/// Errors from the transport layer (ZeroMQ or in memory). Each case says which operation failed.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A libzmq call failed; `operation` names it (e.g. "bind tcp://*:5555").
    case zmq(operation: String, errno: Int32, message: String)
    /// The socket was used after `close()`.
    case closed
    /// The context was terminated while the call was blocked.
    case contextTerminated
    /// A transport refused an operation (e.g. an in-memory address already bound, channels of
    /// two transports polled together); `operation` names it.
    case refused(operation: String, reason: String)
    /// A message larger than the frame limit was not sent: its receiver would refuse it.
    case tooLarge(kind: String, size: Int, limit: Int)

    static func last(_ operation: String) -> TransportError {
        let code = zmq_errno()
        if code == ETERM { return .contextTerminated }
        return .zmq(operation: operation, errno: code, message: String(cString: zmq_strerror(code)))
    }

    public var description: String {
        switch self {
        case let .zmq(operation, errno, message): "\(operation) failed: \(message) (errno \(errno))"
        case .closed: "socket used after close"
        case .contextTerminated: "ZeroMQ context terminated"
        case let .refused(operation, reason): "\(operation) refused: \(reason)"
        case let .tooLarge(kind, size, limit):
            "a \(kind) message of \(size) bytes is over the frame limit of \(limit) bytes, so its receiver would refuse it: "
                + "raise --max-frame-bytes on both ends, or make it smaller (a rollout: --rollout-length, --envs-per-worker)"
        }
    }
}
