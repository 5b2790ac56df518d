import Foundation

/// One end of a connection that moves multipart frames: a ZeroMQ socket (`ZMQSocket`) or an
/// in-memory endpoint (`InMemoryChannel`). Roles and tools speak only this protocol, through
/// `MessageChannel`, so the same code runs over TCP between processes and in memory between
/// threads of one process. Not thread-safe: open, use and close a channel on one thread.
public protocol Channel: AnyObject {
    /// The messaging pattern (push/pull, pub/sub, req/rep, dealer/router).
    var type: SocketType { get }
    /// Sends the frames as one message. False when it could not be queued without waiting
    /// (`dontWait`) or within the send timeout.
    func send(multipart frames: [Data], dontWait: Bool) throws(TransportError) -> Bool
    /// The next message's frames (at most `maxParts`); nil when none is ready (`dontWait`).
    func receiveMultipart(dontWait: Bool, maxParts: Int) throws(TransportError) -> [Data]?
    /// Waits up to `timeoutMilliseconds` for a message to be ready to read.
    func waitReadable(timeoutMilliseconds: Int) throws(TransportError) -> Bool
    /// The address this channel bound or connected to, with a system-chosen port filled in.
    func lastEndpoint() throws(TransportError) -> String
    /// Closes the channel; later calls throw `closed`. Idempotent.
    func close()
}

/// Whether a channel listens at an address or goes to one.
public enum ChannelAddress: Sendable, Equatable {
    case bind(String)
    case connect(String)

    public var endpoint: String {
        switch self {
        case let .bind(endpoint), let .connect(endpoint): endpoint
        }
    }
}

/// How a channel queues and waits; every transport honours the queueing ones, ZeroMQ the rest.
public struct ChannelOptions: Sendable {
    /// Messages queued for sending before sends wait (per peer); nil = the transport's default (1,000).
    public var sendHighWaterMark: Int32?
    /// Messages queued on receipt before the sender is held back; nil = the transport's default (1,000).
    public var receiveHighWaterMark: Int32?
    /// Keep only the newest message received (a subscriber that wants the latest state, not a backlog).
    public var conflate = false
    /// Sends fail at once while no peer is connected, instead of queueing for a peer to come.
    public var immediate = false
    /// How long a blocking send waits for room; nil = until it succeeds.
    public var sendTimeoutMilliseconds: Int32?
    /// How long closing waits for queued messages to leave (ZeroMQ); 0 = drop them.
    public var lingerMilliseconds: Int32 = 0
    /// Reconnection backoff after a lost peer (ZeroMQ): first interval and maximum.
    public var reconnectMilliseconds: (first: Int32, max: Int32)?
    /// Kernel socket buffers (ZeroMQ over TCP); nil = the system's.
    public var sendBufferBytes: Int32?
    public var receiveBufferBytes: Int32?
    /// The id a router peer sees for this channel (dealer); nil = one the transport makes up.
    public var routingID: String?
    /// Largest message the channel takes in; larger ones are dropped by the transport. nil = no limit.
    public var maxMessageBytes: Int64?

    public init(
        sendHighWaterMark: Int32? = nil, receiveHighWaterMark: Int32? = nil, conflate: Bool = false, immediate: Bool = false,
        sendTimeoutMilliseconds: Int32? = nil, lingerMilliseconds: Int32 = 0, reconnectMilliseconds: (first: Int32, max: Int32)? = nil,
        sendBufferBytes: Int32? = nil, receiveBufferBytes: Int32? = nil, routingID: String? = nil, maxMessageBytes: Int64? = nil
    ) {
        self.sendHighWaterMark = sendHighWaterMark
        self.receiveHighWaterMark = receiveHighWaterMark
        self.conflate = conflate
        self.immediate = immediate
        self.sendTimeoutMilliseconds = sendTimeoutMilliseconds
        self.lingerMilliseconds = lingerMilliseconds
        self.reconnectMilliseconds = reconnectMilliseconds
        self.sendBufferBytes = sendBufferBytes
        self.receiveBufferBytes = receiveBufferBytes
        self.routingID = routingID
        self.maxMessageBytes = maxMessageBytes
    }
}

/// Opens channels and waits on several at once. `ZMQContext` is the transport between
/// processes (TCP, IPC, with CURVE when it has keys); `InMemoryTransport` joins threads of one
/// process (tests, `oni run --single-process`). Channels of one transport are polled together;
/// mixing transports in one poll is refused.
public protocol Transport: AnyObject, Sendable {
    func open(_ type: SocketType, _ address: ChannelAddress, options: ChannelOptions) throws(TransportError) -> any Channel
    /// For each channel, whether a message is ready after waiting at most `timeoutMilliseconds`
    /// (-1 = forever) for any of them.
    func readable(_ channels: [any Channel], timeoutMilliseconds: Int) throws(TransportError) -> [Bool]
    /// What the CURVE guard admitted and refused; nil when the transport is not encrypted.
    var securityCounters: SecurityCounters? { get }
}
