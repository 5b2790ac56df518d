import CZeroMQ
import Foundation

/// The ZeroMQ socket patterns Oni uses.
public enum SocketType: Sendable {
    case push, pull, pub, sub, dealer, router, req, rep

    var raw: Int32 {
        switch self {
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        }
    }
}

/// One libzmq socket. Not thread-safe: create, use and close it on one thread.
public final class ZMQSocket {
    private var handle: UnsafeMutableRawPointer?
    private let context: ZMQContext
    public let type: SocketType

    public init(context: ZMQContext, type: SocketType) throws(TransportError) {
        guard let handle = zmq_socket(context.handle, type.raw) else { throw .last("zmq_socket") }
        self.handle = handle
        self.context = context
        self.type = type
        try setOption(ZMQ_LINGER, Int32(0), "linger")
    }

    deinit { close() }

    /// Closes the socket; later calls throw `closed`. Idempotent.
    public func close() {
        if let handle {
            zmq_close(handle)
            self.handle = nil
        }
    }

    var rawHandle: UnsafeMutableRawPointer? { handle }

    private func live() throws(TransportError) -> UnsafeMutableRawPointer {
        guard let handle else { throw .closed }
        return handle
    }

    // MARK: Endpoints

    /// Binds to `endpoint` (e.g. "tcp://*:5555", "tcp://127.0.0.1:*", "ipc:///tmp/x"),
    /// as a CURVE server when the context has keys. Bind or connect a socket once.
    public func bind(_ endpoint: String) throws(TransportError) {
        let h = try live()
        try context.secure(h, endpoint: endpoint, server: true)
        guard zmq_bind(h, endpoint) == 0 else { throw .last("bind \(endpoint)") }
    }

    /// Connects to `endpoint` (as a CURVE client when the context has keys); libzmq
    /// reconnects by itself when the peer goes away.
    public func connect(_ endpoint: String) throws(TransportError) {
        let h = try live()
        try context.secure(h, endpoint: endpoint, server: false)
        guard zmq_connect(h, endpoint) == 0 else { throw .last("connect \(endpoint)") }
    }

    /// The endpoint last bound, with a wildcard port resolved (e.g. "tcp://127.0.0.1:41233").
    public func lastEndpoint() throws(TransportError) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        var size = buffer.count
        guard zmq_getsockopt(try live(), ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { throw .last("last endpoint") }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Options

    func setOption(_ option: Int32, _ value: Int32, _ name: String) throws(TransportError) {
        var v = value
        guard zmq_setsockopt(try live(), option, &v, MemoryLayout<Int32>.size) == 0 else { throw .last("set \(name)") }
    }

    func setOption64(_ option: Int32, _ value: Int64, _ name: String) throws(TransportError) {
        var v = value
        guard zmq_setsockopt(try live(), option, &v, MemoryLayout<Int64>.size) == 0 else { throw .last("set \(name)") }
    }

    func setOption(_ option: Int32, bytes: [UInt8], _ name: String) throws(TransportError) {
        let h = try live()
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(h, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw .last("set \(name)") }
    }

    /// Messages queued per peer before sends block or drop (0 = unlimited).
    public func setSendHighWaterMark(_ messages: Int32) throws(TransportError) { try setOption(ZMQ_SNDHWM, messages, "sndhwm") }
    /// Messages queued per peer on receive (0 = unlimited).
    public func setReceiveHighWaterMark(_ messages: Int32) throws(TransportError) { try setOption(ZMQ_RCVHWM, messages, "rcvhwm") }
    /// Milliseconds pending messages are kept after close (0 = drop at once).
    public func setLinger(milliseconds: Int32) throws(TransportError) { try setOption(ZMQ_LINGER, milliseconds, "linger") }
    /// Queue messages only to completed connections (sends fail instead of piling up for an absent peer).
    public func setImmediate(_ on: Bool) throws(TransportError) { try setOption(ZMQ_IMMEDIATE, on ? 1 : 0, "immediate") }
    /// First and largest reconnect interval, in milliseconds.
    public func setReconnectInterval(milliseconds: Int32, max: Int32) throws(TransportError) {
        try setOption(ZMQ_RECONNECT_IVL, milliseconds, "reconnect_ivl")
        try setOption(ZMQ_RECONNECT_IVL_MAX, max, "reconnect_ivl_max")
    }
    /// Kernel send buffer size in bytes (0 = the OS default). Small buffers keep little data in flight.
    public func setSendBuffer(bytes: Int32) throws(TransportError) { try setOption(ZMQ_SNDBUF, bytes, "sndbuf") }
    /// Kernel receive buffer size in bytes (0 = the OS default).
    public func setReceiveBuffer(bytes: Int32) throws(TransportError) { try setOption(ZMQ_RCVBUF, bytes, "rcvbuf") }
    /// Hard cap above which libzmq drops a message and the connection before we see it (-1 = none).
    public func setMaxMessageSize(_ bytes: Int64) throws(TransportError) { try setOption64(ZMQ_MAXMSGSIZE, bytes, "maxmsgsize") }
    /// Milliseconds a blocking receive waits (-1 = forever).
    public func setReceiveTimeout(milliseconds: Int32) throws(TransportError) { try setOption(ZMQ_RCVTIMEO, milliseconds, "rcvtimeo") }
    /// Milliseconds a blocking send waits (-1 = forever).
    public func setSendTimeout(milliseconds: Int32) throws(TransportError) { try setOption(ZMQ_SNDTIMEO, milliseconds, "sndtimeo") }
    /// Identity a DEALER presents to a ROUTER.
    public func setRoutingID(_ id: String) throws(TransportError) { try setOption(ZMQ_ROUTING_ID, bytes: Array(id.utf8), "routing_id") }
    /// SUB sockets: receive messages starting with `prefix` ("" = all).
    public func subscribe(_ prefix: [UInt8] = []) throws(TransportError) { try setOption(ZMQ_SUBSCRIBE, bytes: prefix, "subscribe") }
    /// SUB/PULL/DEALER: keep only the newest message in the queue.
    public func setConflate(_ on: Bool) throws(TransportError) { try setOption(ZMQ_CONFLATE, on ? 1 : 0, "conflate") }

    // MARK: Sending and receiving

    /// Sends one frame. Returns false when `dontWait` is set (or a send
    /// timeout elapsed) and the message could not be queued.
    @discardableResult
    public func send(_ data: Data, more: Bool = false, dontWait: Bool = false) throws(TransportError) -> Bool {
        let h = try live()
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        while true {
            let rc = data.withUnsafeBytes { zmq_send(h, $0.baseAddress, $0.count, flags) }
            if rc >= 0 { return true }
            let code = zmq_errno()
            if code == EINTR { continue }
            if code == EAGAIN { return false }
            throw .last("send")
        }
    }

    /// Sends the frames as one multipart message.
    @discardableResult
    public func send(multipart frames: [Data], dontWait: Bool = false) throws(TransportError) -> Bool {
        for (i, frame) in frames.enumerated() {
            let sent = try send(frame, more: i < frames.count - 1, dontWait: dontWait)
            if !sent {
                // The first part failed before anything was queued; a later part cannot fail with EAGAIN.
                return false
            }
        }
        return true
    }

    /// Receives one frame; nil when none is ready (`dontWait`) or the receive timeout elapsed.
    public func receive(dontWait: Bool = false) throws(TransportError) -> (data: Data, more: Bool)? {
        let h = try live()
        var msg = zmq_msg_t()
        zmq_msg_init(&msg)
        defer { zmq_msg_close(&msg) }
        while true {
            let rc = zmq_msg_recv(&msg, h, dontWait ? ZMQ_DONTWAIT : 0)
            if rc >= 0 { break }
            let code = zmq_errno()
            if code == EINTR { continue }
            if code == EAGAIN { return nil }
            throw .last("receive")
        }
        let size = zmq_msg_size(&msg)
        let data = size == 0 ? Data() : Data(bytes: zmq_msg_data(&msg), count: size)
        return (data, zmq_msg_more(&msg) != 0)
    }

    /// Receives every part of one multipart message; nil when none is ready.
    /// Messages with more than `maxParts` parts are drained and returned cut to that many.
    public func receiveMultipart(dontWait: Bool = false, maxParts: Int = 8) throws(TransportError) -> [Data]? {
        guard let first = try receive(dontWait: dontWait) else { return nil }
        var parts = [first.data]
        var more = first.more
        while more {
            guard let next = try receive() else { break }
            if parts.count < maxParts { parts.append(next.data) }
            more = next.more
        }
        return parts
    }

    /// Waits up to `timeoutMilliseconds` for a frame to be ready to read.
    public func waitReadable(timeoutMilliseconds: Int) throws(TransportError) -> Bool {
        try Poller.readable([self], timeoutMilliseconds: timeoutMilliseconds)[0]
    }
}

/// zmq_poll over several sockets.
public enum Poller {
    /// For each socket, whether a frame is ready to read after waiting at most
    /// `timeoutMilliseconds` (-1 = forever) for any of them.
    public static func readable(_ sockets: [ZMQSocket], timeoutMilliseconds: Int) throws(TransportError) -> [Bool] {
        var items = [zmq_pollitem_t]()
        for socket in sockets {
            guard let h = socket.rawHandle else { throw .closed }
            items.append(zmq_pollitem_t(socket: h, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
        }
        while true {
            let rc = zmq_poll(&items, Int32(items.count), timeoutMilliseconds)
            if rc >= 0 { break }
            if zmq_errno() == EINTR { continue }
            throw .last("poll")
        }
        return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
