import Foundation
import Logging
import OniTransport
import OniWire

/// Asks a learner's control socket for its current metrics (REQ/REP).
public enum StatusClient {
    /// The learner's metrics, or nil if it did not answer within the timeout.
    public static func query(
        _ endpoint: String, transport: any Transport, timeoutMilliseconds: Int = 1000, logger: Logger
    ) throws(TransportError) -> Oni_V1_Metrics? {
        var request = Oni_V1_StatusRequest()
        request.client = "oni"
        // A REQ socket that timed out cannot send again, so each query uses a fresh one.
        let reply = try ask(endpoint, .statusRequest(request), over: .req, expecting: .metrics, transport: transport, timeoutMilliseconds: timeoutMilliseconds, logger: logger)
        guard case let .metrics(metrics)? = reply else { return nil }
        return metrics
    }

    /// Sends `message` over a fresh socket of `type` connected to `endpoint` and waits for one
    /// reply of kind `expecting`; nil if none came within the timeout.
    static func ask(
        _ endpoint: String, _ message: WireMessage, over type: SocketType, expecting: MessageKind,
        transport: any Transport, timeoutMilliseconds: Int, logger: Logger
    ) throws(TransportError) -> WireMessage? {
        let socket = try MessageChannel(
            transport: transport, type: type, .connect(endpoint), options: ChannelOptions(sendTimeoutMilliseconds: Int32(timeoutMilliseconds)),
            name: "\(message.kind) client", accepts: [expecting], logger: logger)
        defer { socket.close() }
        guard try socket.send(message) else { return nil }
        return try socket.receive(timeoutMilliseconds: timeoutMilliseconds)
    }
}

/// Asks an annotator for its figures: a Heartbeat over a DEALER socket, answered with its own.
public enum AnnotatorStatusClient {
    /// The annotator's heartbeat, or nil if it did not answer within the timeout.
    public static func query(
        _ endpoint: String, transport: any Transport, timeoutMilliseconds: Int = 1000, logger: Logger
    ) throws(TransportError) -> Oni_V1_Heartbeat? {
        var beat = Oni_V1_Heartbeat()
        beat.role = "probe"
        beat.id = "oni-health"
        beat.unixMs = Int64(Date().timeIntervalSince1970 * 1000)
        let reply = try StatusClient.ask(
            endpoint, .heartbeat(beat), over: .dealer, expecting: .heartbeat, transport: transport, timeoutMilliseconds: timeoutMilliseconds, logger: logger)
        guard case let .heartbeat(answer)? = reply else { return nil }
        return answer
    }
}
