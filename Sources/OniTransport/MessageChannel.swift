import Foundation
import Logging
import OniWire

/// A channel (ZeroMQ socket or in-memory) that speaks Oni frames: encodes on send, and on
/// receive refuses malformed frames (typed `FrameError`), logs and counts them and goes on, so a
/// bad peer can never crash or stall its receiver.
public final class MessageChannel {
    public let channel: any Channel
    public let codec: FrameCodec
    public let counters: FrameCounters
    /// Message kinds this socket accepts; others are refused as `unexpectedKind`.
    public let accepts: Set<MessageKind>
    private let logger: Logger
    private let name: String

    /// A received message, with the sender's routing id (ROUTER sockets; empty elsewhere)
    /// and the frame exactly as received (e.g. to store a rollout without re-encoding it).
    public struct Routed {
        public var peer: Data
        public var message: WireMessage
        public var frame: Data
    }

    /// Opens a channel of `transport` at `address` with `options`. Its largest message is set
    /// well above the codec's refusal limit: frames between the two are refused and counted by
    /// us; larger ones the transport drops with the connection.
    public init(
        transport: any Transport, type: SocketType, _ address: ChannelAddress, options: ChannelOptions = ChannelOptions(),
        name: String, accepts: Set<MessageKind>, codec: FrameCodec = FrameCodec(), counters: FrameCounters = FrameCounters(), logger: Logger
    ) throws(TransportError) {
        var options = options
        let (doubled, overflow) = Int64(codec.maxFrameBytes).multipliedReportingOverflow(by: 2)
        options.maxMessageBytes = overflow ? -1 : doubled + 1024
        self.channel = try transport.open(type, address, options: options)
        self.codec = codec
        self.counters = counters
        self.accepts = accepts
        self.logger = logger
        self.name = name
    }

    /// The address the channel bound or connected to (a system-chosen port filled in).
    public func lastEndpoint() throws(TransportError) -> String { try channel.lastEndpoint() }

    /// Sends `message`; false if it could not be queued without waiting (`dontWait`) or within the send timeout.
    @discardableResult
    public func send(_ message: WireMessage, dontWait: Bool = false) throws(TransportError) -> Bool {
        let sent = try channel.send(multipart: [try encodeWithinLimit(message)], dontWait: dontWait)
        if sent { counters.countSent() }
        return sent
    }

    /// ROUTER: sends `message` to the peer with routing id `peer`.
    @discardableResult
    public func send(_ message: WireMessage, to peer: Data, dontWait: Bool = false) throws(TransportError) -> Bool {
        let sent = try channel.send(multipart: [peer, try encodeWithinLimit(message)], dontWait: dontWait)
        if sent { counters.countSent() }
        return sent
    }

    /// Receives the next valid message, skipping (and counting) refused frames.
    /// Returns nil when nothing valid arrives within `timeoutMilliseconds`.
    public func receive(timeoutMilliseconds: Int) throws(TransportError) -> WireMessage? {
        try receiveRouted(timeoutMilliseconds: timeoutMilliseconds)?.message
    }

    /// Like `receive`, keeping the routing id on ROUTER sockets (empty elsewhere).
    public func receiveRouted(timeoutMilliseconds: Int) throws(TransportError) -> Routed? {
        let deadline = ContinuousClock.now + .milliseconds(timeoutMilliseconds)
        while true {
            while let parts = try channel.receiveMultipart(dontWait: true, maxParts: 8) {
                if let routed = accept(parts) { return routed }
            }
            guard timeoutMilliseconds > 0 else { return nil }
            let remaining = ContinuousClock.now.duration(to: deadline)
            let milliseconds = Int(remaining / .milliseconds(1))
            if milliseconds <= 0 { return nil }
            _ = try channel.waitReadable(timeoutMilliseconds: milliseconds)
        }
    }

    /// Decodes one received message; nil (after counting and logging) when refused.
    public func accept(_ parts: [Data]) -> Routed? {
        let routed = channel.type == .router
        let expectedParts = routed ? 2 : 1
        guard parts.count == expectedParts else {
            refuse(.truncated(size: parts.last?.count ?? 0), detail: "\(parts.count) parts, expected \(expectedParts)")
            return nil
        }
        do {
            let message = try codec.decode(parts[expectedParts - 1])
            guard accepts.contains(message.kind) else { throw FrameError.unexpectedKind(message.kind) }
            counters.countReceived()
            return Routed(peer: routed ? parts[0] : Data(), message: message, frame: parts[expectedParts - 1])
        } catch let error as FrameError {
            refuse(error, detail: nil)
            return nil
        } catch {
            return nil
        }
    }

    /// Counts and logs a frame refused after decoding (e.g. a Rollout whose tensors lie about their sizes).
    public func refuse(_ error: FrameError, detail: String?) {
        let n = counters.countRefused(error.counterName)
        if LogThrottle.shouldLog(n) {
            logger.warning(
                "refused frame",
                metadata: [
                    "socket": "\(name)", "reason": "\(error)", "count": "\(n)",
                    "detail": "\(detail ?? "")",
                ])
        }
    }

    public func close() { channel.close() }

    /// The message's frame, if the receiver's limit (the same codec's, both ends configured
    /// alike) lets it through: a frame over it is counted and logged here, where it is made,
    /// rather than dropped unseen on the way (libzmq closes a connection that carries one over
    /// its own ceiling) or refused at the other end.
    private func encodeWithinLimit(_ message: WireMessage) throws(TransportError) -> Data {
        let frame = codec.encode(message)
        guard frame.count <= codec.maxFrameBytes else {
            let error = TransportError.tooLarge(kind: "\(message.kind)", size: frame.count, limit: codec.maxFrameBytes)
            let n = counters.countTooLarge()
            if LogThrottle.shouldLog(n) { logger.error("message not sent", metadata: ["socket": "\(name)", "error": "\(error)", "count": "\(n)"]) }
            throw error
        }
        return frame
    }
}
