import Foundation
import Logging
import OniTransport
import OniWire

/// Asks a learner's control socket for its current metrics (REQ/REP).
public enum StatusClient {
    /// The learner's metrics, or nil if it did not answer within the timeout.
    public static func query(
        _ endpoint: String, context: ZMQContext, timeoutMilliseconds: Int = 1000, logger: Logger
    ) throws(TransportError) -> Oni_V1_Metrics? {
        // A REQ socket that timed out cannot send again, so each query uses a fresh one.
        let socket = try MessageSocket(context: context, type: .req, name: "status", accepts: [.metrics], logger: logger)
        defer { socket.close() }
        try socket.socket.setSendTimeout(milliseconds: Int32(timeoutMilliseconds))
        try socket.socket.connect(endpoint)
        var request = Oni_V1_StatusRequest()
        request.client = "oni"
        guard try socket.send(.statusRequest(request)) else { return nil }
        guard case let .metrics(metrics)? = try socket.receive(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        return metrics
    }
}

/// Asks an annotator for its figures: a Heartbeat over a DEALER socket, answered with its own.
public enum AnnotatorStatusClient {
    /// The annotator's heartbeat, or nil if it did not answer within the timeout.
    public static func query(
        _ endpoint: String, context: ZMQContext, timeoutMilliseconds: Int = 1000, logger: Logger
    ) throws(TransportError) -> Oni_V1_Heartbeat? {
        let socket = try MessageSocket(context: context, type: .dealer, name: "annotator-status", accepts: [.heartbeat], logger: logger)
        defer { socket.close() }
        try socket.socket.setSendTimeout(milliseconds: Int32(timeoutMilliseconds))
        try socket.socket.connect(endpoint)
        var beat = Oni_V1_Heartbeat()
        beat.role = "probe"
        beat.id = "oni-health"
        beat.unixMs = Int64(Date().timeIntervalSince1970 * 1000)
        guard try socket.send(.heartbeat(beat)) else { return nil }
        guard case let .heartbeat(reply)? = try socket.receive(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        return reply
    }
}
