import CZeroMQ
import Logging

/// A libzmq context: owns the I/O threads. Thread-safe; share one per process.
///
/// With `security`, every socket of the context that binds or connects over tcp or ipc
/// uses CURVE: servers admit only the listed client keys (ZAP), clients check the
/// server's key, and failed handshakes are logged and counted in `securityCounters`.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    /// The CURVE keys of this process; nil = plain TCP.
    public let security: CurveSecurity?
    private let authenticator: CurveAuthenticator?

    /// Creates a context with `ioThreads` background I/O threads.
    public init(ioThreads: Int32 = 1) {
        handle = Self.newHandle(ioThreads: ioThreads)
        self.security = nil
        self.authenticator = nil
    }

    /// Creates a context whose sockets all use CURVE with `security`'s keys.
    public init(ioThreads: Int32 = 1, security: CurveSecurity, logger: Logger = Logger(label: "oni.curve")) throws(TransportError) {
        guard zmq_has("curve") != 0 else {
            throw .zmq(operation: "CURVE", errno: 0, message: "this libzmq (\(Self.libraryVersion)) was built without CURVE")
        }
        let handle = Self.newHandle(ioThreads: ioThreads)
        self.handle = handle
        self.security = security
        do {
            self.authenticator = try CurveAuthenticator(
                contextHandle: handle, authorized: security.authorized, serves: security.server != nil, logger: logger)
        } catch {
            zmq_ctx_term(handle)
            throw error
        }
    }

    private static func newHandle(ioThreads: Int32) -> UnsafeMutableRawPointer {
        guard let handle = zmq_ctx_new() else { fatalError("zmq_ctx_new failed: out of memory") }
        zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
        return handle
    }

    /// What the CURVE guard has admitted and refused (nil without security).
    public var securityCounters: SecurityCounters? { authenticator?.counters }

    /// Sockets whose CURVE handshakes are watched now (0 without security).
    var watchedSockets: Int { authenticator?.watching.load(ordering: .relaxed) ?? 0 }

    /// Makes blocked calls in every socket of this context return `contextTerminated`.
    public func shutdown() {
        zmq_ctx_shutdown(handle)
    }

    deinit {
        // Sockets keep a strong reference to their context, so by now all are closed
        // (the CURVE thread closes its own when termination interrupts its poll).
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    /// Sets CURVE on `socket` before it binds (`server`) or connects, and watches its handshakes.
    func secure(_ socket: UnsafeMutableRawPointer, endpoint: String, server: Bool) throws(TransportError) {
        guard let security, let authenticator, !endpoint.hasPrefix("inproc://") else { return }
        func set(_ option: Int32, _ bytes: [UInt8], _ name: String) throws(TransportError) {
            let rc = bytes.withUnsafeBytes { zmq_setsockopt(socket, option, $0.baseAddress, $0.count) }
            guard rc == 0 else { throw .last("set \(name)") }
        }
        if server {
            guard let pair = security.server else {
                throw .zmq(operation: "bind \(endpoint)", errno: 0, message: "CURVE: this process has no server key (server.key) to bind with")
            }
            var on: Int32 = 1
            guard zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &on, MemoryLayout<Int32>.size) == 0 else { throw .last("set curve_server") }
            try set(ZMQ_CURVE_SECRETKEY, pair.secretBytes, "curve_secretkey")
            try set(ZMQ_ZAP_DOMAIN, Array(CurveAuthenticator.domain.utf8), "zap_domain")
        } else {
            guard let pair = security.client else {
                throw .zmq(operation: "connect \(endpoint)", errno: 0, message: "CURVE: this process has no client key (client.key) to connect with")
            }
            try set(ZMQ_CURVE_SERVERKEY, security.serverPublic.bytes, "curve_serverkey")
            try set(ZMQ_CURVE_PUBLICKEY, pair.publicKey.bytes, "curve_publickey")
            try set(ZMQ_CURVE_SECRETKEY, pair.secretBytes, "curve_secretkey")
        }
        try authenticator.watch(socket, name: endpoint, server: server)
    }

    /// libzmq's version as "major.minor.patch".
    public static var libraryVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}

/// A ZeroMQ context is the transport between processes: every channel it opens is a libzmq socket.
extension ZMQContext: Transport {
    public func open(_ type: SocketType, _ address: ChannelAddress, options: ChannelOptions) throws(TransportError) -> any Channel {
        let socket = try ZMQSocket(context: self, type: type)
        // Options must be set before bind or connect: libzmq copies them into the connection.
        if let value = options.sendHighWaterMark { try socket.setSendHighWaterMark(value) }
        if let value = options.receiveHighWaterMark { try socket.setReceiveHighWaterMark(value) }
        if options.conflate { try socket.setConflate(true) }
        if options.immediate { try socket.setImmediate(true) }
        if let value = options.sendTimeoutMilliseconds { try socket.setSendTimeout(milliseconds: value) }
        if options.lingerMilliseconds != 0 { try socket.setLinger(milliseconds: options.lingerMilliseconds) }
        if let value = options.reconnectMilliseconds { try socket.setReconnectInterval(milliseconds: value.first, max: value.max) }
        if let value = options.sendBufferBytes { try socket.setSendBuffer(bytes: value) }
        if let value = options.receiveBufferBytes { try socket.setReceiveBuffer(bytes: value) }
        if let value = options.maxMessageBytes { try socket.setMaxMessageSize(value) }
        if let value = options.routingID { try socket.setRoutingID(value) }
        if type == .sub { try socket.subscribe() }
        switch address {
        case let .bind(endpoint): try socket.bind(endpoint)
        case let .connect(endpoint): try socket.connect(endpoint)
        }
        return socket
    }

    public func readable(_ channels: [any Channel], timeoutMilliseconds: Int) throws(TransportError) -> [Bool] {
        var sockets: [ZMQSocket] = []
        for channel in channels {
            guard let socket = channel as? ZMQSocket else {
                throw .refused(operation: "poll", reason: "\(Swift.type(of: channel)) is not a ZeroMQ socket")
            }
            sockets.append(socket)
        }
        return try Poller.readable(sockets, timeoutMilliseconds: timeoutMilliseconds)
    }
}

extension ZMQSocket: Channel {}
