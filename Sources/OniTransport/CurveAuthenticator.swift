import CZeroMQ
import Foundation
import Logging
import Synchronization

/// Counts of what the CURVE guard saw: clients admitted, keys refused, failed handshakes.
public final class SecurityCounters: Sendable {
    private struct State {
        var admitted = 0
        var refusedKeys = 0
        var failedHandshakes = 0
        var refusedByServer = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Connections whose client key was on the list.
    public var admitted: Int { state.withLock { $0.admitted } }
    /// Connections refused because the client's key was not on the list.
    public var refusedKeys: Int { state.withLock { $0.refusedKeys } }
    /// Handshakes that failed before a key could be checked (a peer without CURVE, a wrong server key).
    public var failedHandshakes: Int { state.withLock { $0.failedHandshakes } }
    /// Times a server refused this process's own client key.
    public var refusedByServer: Int { state.withLock { $0.refusedByServer } }

    func admit() { state.withLock { $0.admitted += 1 } }
    func refuseKey() -> Int { state.withLock { $0.refusedKeys += 1; return $0.refusedKeys } }
    func failHandshake() -> Int { state.withLock { $0.failedHandshakes += 1; return $0.failedHandshakes } }
    func refusedByPeer() -> Int { state.withLock { $0.refusedByServer += 1; return $0.refusedByServer } }
}

/// The ZAP handler of one context (admits only listed client keys) and the watcher of
/// its sockets' handshake events, on one thread. Every refusal is logged and counted.
///
/// The thread holds the context's raw handle, not the `ZMQContext`, so the context can
/// be released; terminating it ends the thread's poll with ETERM and the thread closes
/// its sockets, which lets the termination finish.
final class CurveAuthenticator: @unchecked Sendable {
    /// A monitor socket (PAIR) receiving one watched socket's handshake events; owned by
    /// the thread once handed over.
    struct Watched: @unchecked Sendable {
        var socket: UnsafeMutableRawPointer
        var name: String
        var server: Bool
    }

    static let zapEndpoint = "inproc://zeromq.zap.01"
    static let domain = "oni"
    private static let watchedEvents = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
        | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_MONITOR_STOPPED

    let counters = SecurityCounters()
    private let contextHandle: UnsafeMutableRawPointer
    private let authorized: Set<CurvePublicKey>
    private let logger: Logger
    private let zap: UnsafeMutableRawPointer?
    private let anchor: UnsafeMutableRawPointer?
    /// Monitor sockets made on socket owners' threads, waiting to be taken over by the thread.
    private let handover = Mutex<[Watched]>([])
    private let nextMonitor = Atomic<Int>(0)
    /// Sockets whose handshakes are watched now (closed ones are let go).
    let watching = Atomic<Int>(0)

    /// Binds the ZAP endpoint (when `serves`) before returning, so no server socket can
    /// accept a connection unchecked, and starts the thread.
    init(contextHandle: UnsafeMutableRawPointer, authorized: Set<CurvePublicKey>, serves: Bool, logger: Logger) throws(TransportError) {
        self.contextHandle = contextHandle
        self.authorized = authorized
        self.logger = logger
        if serves {
            guard let zap = zmq_socket(contextHandle, ZMQ_REP) else { throw .last("zmq_socket (ZAP)") }
            var linger: Int32 = 0
            zmq_setsockopt(zap, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
            guard zmq_bind(zap, Self.zapEndpoint) == 0 else {
                let error = TransportError.last("bind \(Self.zapEndpoint)")
                zmq_close(zap)
                throw error
            }
            self.zap = zap
            anchor = nil
        } else {
            self.zap = nil
            // A socket that is always in the poll set, so that terminating the context ends the
            // poll with ETERM even when no socket is watched (an empty poll only sleeps).
            guard let anchor = zmq_socket(contextHandle, ZMQ_PAIR) else { throw .last("zmq_socket (anchor)") }
            var linger: Int32 = 0
            zmq_setsockopt(anchor, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
            let endpoint = "inproc://oni-curve-anchor-\(UInt(bitPattern: contextHandle))"
            guard zmq_bind(anchor, endpoint) == 0 else {
                let error = TransportError.last("bind \(endpoint)")
                zmq_close(anchor)
                throw error
            }
            self.anchor = anchor
        }
        let thread = Thread { [self] in self.run() }
        thread.name = "oni-curve"
        thread.start()
    }

    /// Watches `socket`'s handshakes. Call on the socket's own thread, before bind or connect.
    func watch(_ socket: UnsafeMutableRawPointer, name: String, server: Bool) throws(TransportError) {
        let endpoint = "inproc://oni-curve-monitor-\(nextMonitor.add(1, ordering: .relaxed).newValue)"
        guard zmq_socket_monitor(socket, endpoint, Self.watchedEvents) == 0 else { throw .last("monitor \(name)") }
        guard let pair = zmq_socket(contextHandle, ZMQ_PAIR) else { throw .last("zmq_socket (monitor)") }
        var linger: Int32 = 0
        zmq_setsockopt(pair, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        guard zmq_connect(pair, endpoint) == 0 else {
            let error = TransportError.last("connect \(endpoint)")
            zmq_close(pair)
            throw error
        }
        let watched = Watched(socket: pair, name: name, server: server)
        handover.withLock { $0.append(watched) }
    }

    private func run() {
        var monitors: [Watched] = []
        defer {
            if let zap { zmq_close(zap) }
            if let anchor { zmq_close(anchor) }
            for monitor in monitors { zmq_close(monitor.socket) }
            for monitor in handover.withLock({ $0 }) { zmq_close(monitor.socket) }
        }
        while true {
            monitors += handover.withLock { pending in
                defer { pending.removeAll() }
                return pending
            }
            watching.store(monitors.count, ordering: .relaxed)
            var items = [zmq_pollitem_t]()
            if let zap { items.append(zmq_pollitem_t(socket: zap, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)) }
            if let anchor { items.append(zmq_pollitem_t(socket: anchor, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)) }
            for monitor in monitors {
                items.append(zmq_pollitem_t(socket: monitor.socket, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
            }
            // A short timeout picks up newly watched sockets soon after they appear.
            let rc = zmq_poll(&items, Int32(items.count), 100)
            if rc < 0 {
                if zmq_errno() == EINTR { continue }
                Self.ending("poll")
                return
            }
            var index = 0
            if let zap {
                if items[0].revents & Int16(ZMQ_POLLIN) != 0, !answer(zap) {
                    Self.ending("ZAP")
                    return
                }
                index = 1
            }
            if anchor != nil { index = 1 }
            var stopped: [Int] = []
            for (position, monitor) in monitors.enumerated() {
                if items[index].revents & Int16(ZMQ_POLLIN) != 0 {
                    switch report(monitor) {
                    case .watching: break
                    case .socketClosed: stopped.append(position)
                    case .contextEnding:
                        Self.ending("monitor")
                        return
                    }
                }
                index += 1
            }
            // A closed socket's monitor has nothing more to say: short-lived sockets leave nothing behind.
            for position in stopped.reversed() { zmq_close(monitors.remove(at: position).socket) }
            watching.store(monitors.count, ordering: .relaxed)
        }
    }

    /// Checks that the thread stops because the context is ending. Any other failure would
    /// leave the servers without a ZAP handler, which libzmq treats as "admit every key":
    /// the process stops rather than run open.
    private static func ending(_ what: String) {
        let code = zmq_errno()
        guard code == ETERM else {
            fatalError("CURVE guard failed (\(what): \(String(cString: zmq_strerror(code)))); stopping rather than admitting every client")
        }
    }

    /// Answers one ZAP request (RFC 27); false when the context is ending.
    private func answer(_ zap: UnsafeMutableRawPointer) -> Bool {
        guard let frames = receiveAll(zap) else { return false }
        // version, request id, domain, address, routing id, mechanism, credentials…
        guard frames.count >= 6 else {
            // Not from libzmq; a REP must still reply before it can receive again.
            return reply(on: zap, requestID: frames.count > 1 ? frames[1] : Data(), status: "500", text: "malformed ZAP request")
        }
        let requestID = frames[1]
        let address = String(decoding: frames[3], as: UTF8.self)
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        var status = "400"
        var text = "client key not authorized"
        if mechanism == "CURVE", frames.count >= 7, let key = CurvePublicKey(bytes: Array(frames[6])) {
            if authorized.contains(key) {
                status = "200"
                text = "OK"
                counters.admit()
                logger.debug("admitted client", metadata: ["address": "\(address)", "key": "\(key.z85)"])
            } else {
                let n = counters.refuseKey()
                if LogThrottle.shouldLog(n) {
                    logger.warning(
                        "refused a client whose key is not in authorized_clients",
                        metadata: ["address": "\(address)", "key": "\(key.z85)", "count": "\(n)"])
                }
            }
        } else {
            let n = counters.refuseKey()
            text = "CURVE required"
            if LogThrottle.shouldLog(n) {
                logger.warning("refused a client without a CURVE key", metadata: ["address": "\(address)", "mechanism": "\(mechanism)", "count": "\(n)"])
            }
        }
        return reply(on: zap, requestID: requestID, status: status, text: text)
    }

    /// Sends one ZAP reply; false when the context is ending.
    private func reply(on zap: UnsafeMutableRawPointer, requestID: Data, status: String, text: String) -> Bool {
        let reply = [Data("1.0".utf8), requestID, Data(status.utf8), Data(text.utf8), Data(), Data()]
        for (i, frame) in reply.enumerated() {
            let flags = i < reply.count - 1 ? ZMQ_SNDMORE : 0
            let rc = frame.withUnsafeBytes { zmq_send(zap, $0.baseAddress, $0.count, flags) }
            if rc < 0 { return zmq_errno() != ETERM }
        }
        return true
    }

    enum MonitorState { case watching, socketClosed, contextEnding }

    /// Logs one handshake event of a watched socket.
    private func report(_ monitor: Watched) -> MonitorState {
        guard let frames = receiveAll(monitor.socket) else { return .contextEnding }
        guard frames.count >= 2, frames[0].count >= 6 else { return .watching }
        let event = UInt16(frames[0][frames[0].startIndex]) | UInt16(frames[0][frames[0].startIndex + 1]) << 8
        let value = frames[0].dropFirst(2).prefix(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        let endpoint = String(decoding: frames[1], as: UTF8.self)
        if Int32(event) == ZMQ_EVENT_MONITOR_STOPPED { return .socketClosed }
        if Int32(event) == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH {
            // On a server the ZAP handler has logged the refusal already.
            guard !monitor.server else { return .watching }
            let n = counters.refusedByPeer()
            if LogThrottle.shouldLog(n) {
                logger.error(
                    "the server refused this process's CURVE key (is it in the server's authorized_clients?)",
                    metadata: ["socket": "\(monitor.name)", "endpoint": "\(endpoint)", "status": "\(value)", "count": "\(n)"])
            }
            return .watching
        }
        let n = counters.failHandshake()
        if LogThrottle.shouldLog(n) {
            let hint = monitor.server
                ? "a client without CURVE or with the wrong server key"
                : "the server has no CURVE or another key than server.pub"
            logger.warning(
                "CURVE handshake failed: \(hint)",
                metadata: ["socket": "\(monitor.name)", "endpoint": "\(endpoint)", "error": "0x\(String(value, radix: 16))", "count": "\(n)"])
        }
        return .watching
    }

    private func receiveAll(_ socket: UnsafeMutableRawPointer) -> [Data]? {
        var frames = [Data]()
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            while zmq_msg_recv(&msg, socket, 0) < 0 {
                if zmq_errno() != EINTR { return nil }
            }
            let size = zmq_msg_size(&msg)
            if frames.count < 16 { frames.append(size == 0 ? Data() : Data(bytes: zmq_msg_data(&msg), count: size)) }
            if zmq_msg_more(&msg) == 0 { return frames }
        }
    }
}
