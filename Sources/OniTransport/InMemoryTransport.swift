import Foundation

/// Channels between threads of one process, with ZeroMQ's patterns and queueing: push/pull
/// (round-robin sends that wait while every peer's queue is full, fair-queued receives),
/// pub/sub (sent to every subscriber, dropped when its queue is full, conflation keeps only the
/// newest), req/rep and dealer/router (replies go back to the peer that asked; a router sees
/// each connection's id). A connection's queue holds the sender's send high-water mark plus the
/// receiver's receive high-water mark, as ZeroMQ's two queues do, so back-pressure reaches the
/// sender the same way. Addresses are names (`mem://learner/experience`; a `*` is replaced by a
/// number, as a system-chosen port); connecting before the bind, or again after the bound end
/// closed and another bound the name, works as with ZeroMQ. Messages already queued when the
/// sender closes are still delivered. Thread-safe: one lock guards the whole transport.
public final class InMemoryTransport: Transport, @unchecked Sendable {
    let condition = NSCondition()
    private var bound: [String: InMemoryChannel] = [:]
    private var connectors: [String: [Weak]] = [:]
    private var nextNumber = 1

    private struct Weak { weak var channel: InMemoryChannel? }

    public init() {}

    /// Nothing leaves the process: no encryption to count.
    public var securityCounters: SecurityCounters? { nil }

    public func open(_ type: SocketType, _ address: ChannelAddress, options: ChannelOptions) throws(TransportError) -> any Channel {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        switch address {
        case let .bind(requested):
            var endpoint = requested
            if endpoint.contains("*") {
                endpoint = endpoint.replacingOccurrences(of: "*", with: "\(nextNumber)")
                nextNumber += 1
            }
            if let holder = bound[endpoint], !holder.isClosed {
                throw .refused(operation: "bind \(endpoint)", reason: "address already in use")
            }
            let channel = InMemoryChannel(transport: self, type: type, endpoint: endpoint, options: options)
            bound[endpoint] = channel
            for connector in connectors[endpoint, default: []].compactMap(\.channel) where !connector.isClosed {
                connect(connector, to: channel)
            }
            return channel
        case let .connect(endpoint):
            let channel = InMemoryChannel(transport: self, type: type, endpoint: endpoint, options: options)
            connectors[endpoint, default: []].removeAll { $0.channel == nil || $0.channel!.isClosed }
            connectors[endpoint, default: []].append(Weak(channel: channel))
            if let binder = bound[endpoint], !binder.isClosed { connect(channel, to: binder) }
            return channel
        }
    }

    /// Joins two channels with a queue each way (called with the lock held).
    private func connect(_ a: InMemoryChannel, to b: InMemoryChannel) {
        let id = a.options.routingID.map { Data($0.utf8) } ?? Data([0]) + withUnsafeBytes(of: UInt32(nextNumber).bigEndian) { Data($0) }
        nextNumber += 1
        let forward = InMemoryChannel.Pipe(from: a, to: b, peerID: id)
        let backward = InMemoryChannel.Pipe(from: b, to: a, peerID: id)
        for pipe in [forward, backward] {
            pipe.from.outgoing.append(pipe)
            pipe.to.incoming.append(pipe)
        }
    }

    public func readable(_ channels: [any Channel], timeoutMilliseconds: Int) throws(TransportError) -> [Bool] {
        var mine: [InMemoryChannel] = []
        for channel in channels {
            guard let channel = channel as? InMemoryChannel, channel.transport === self else {
                throw .refused(operation: "poll", reason: "\(Swift.type(of: channel)) is not a channel of this in-memory transport")
            }
            mine.append(channel)
        }
        condition.lock()
        defer { condition.unlock() }
        let ready = try wait(timeoutMilliseconds: timeoutMilliseconds) { () throws(TransportError) -> [Bool]? in
            let ready = try mine.map { channel throws(TransportError) in try channel.hasMessage() }
            return ready.contains(true) ? ready : nil
        }
        return ready ?? mine.map { _ in false }
    }

    /// With the lock held: evaluates `check` until it gives a value or the time is up (-1 = no limit).
    func wait<T>(timeoutMilliseconds: Int, _ check: () throws(TransportError) -> T?) throws(TransportError) -> T? {
        let deadline = Date().addingTimeInterval(Double(max(0, timeoutMilliseconds)) / 1000)
        while true {
            if let value = try check() { return value }
            if timeoutMilliseconds == 0 { return nil }
            // No limit: wait without a deadline (NSCondition.wait(until: .distantFuture) traps on Linux).
            if timeoutMilliseconds < 0 {
                condition.wait()
            } else if !condition.wait(until: deadline) && Date() >= deadline {
                return try check()
            }
        }
    }
}

/// One end of an in-memory connection (see `InMemoryTransport`).
public final class InMemoryChannel: Channel {
    public let type: SocketType
    let transport: InMemoryTransport
    private let endpoint: String
    let options: ChannelOptions
    /// Queues delivering to this channel and from it, one per connected peer.
    fileprivate(set) var incoming: [Pipe] = []
    fileprivate(set) var outgoing: [Pipe] = []
    private var nextOut = 0, nextIn = 0
    /// rep: a request was received and awaits its reply, which goes to `replyTo` (nil when the
    /// asker has gone since: the reply is dropped, as ZeroMQ drops it).
    private var replyPending = false
    private var replyTo: Pipe?
    private(set) var isClosed = false

    /// The queue from one channel to another.
    final class Pipe {
        let from: InMemoryChannel, to: InMemoryChannel
        /// The id a router sees for this connection.
        let peerID: Data
        var messages: [[Data]] = []
        var head = 0
        init(from: InMemoryChannel, to: InMemoryChannel, peerID: Data) {
            self.from = from
            self.to = to
            self.peerID = peerID
        }

        var count: Int { messages.count - head }
        var capacity: Int {
            if to.options.conflate { return 1 }
            let send = Int(from.options.sendHighWaterMark ?? 1000), receive = Int(to.options.receiveHighWaterMark ?? 1000)
            return send == 0 || receive == 0 ? Int.max : send + receive
        }
        var hasRoom: Bool { count < capacity && !to.isClosed }

        func push(_ message: [Data]) {
            if to.options.conflate {
                messages = [message]
                head = 0
            } else {
                messages.append(message)
            }
        }

        func pop() -> [Data] {
            let message = messages[head]
            head += 1
            if head > 64 && head * 2 > messages.count {
                messages.removeFirst(head)
                head = 0
            }
            return message
        }
    }

    init(transport: InMemoryTransport, type: SocketType, endpoint: String, options: ChannelOptions) {
        self.transport = transport
        self.type = type
        self.endpoint = endpoint
        self.options = options
    }

    private func live() throws(TransportError) {
        if isClosed { throw .closed }
    }

    public func lastEndpoint() throws(TransportError) -> String {
        try live()
        return endpoint
    }

    public func close() {
        transport.condition.lock()
        defer {
            transport.condition.broadcast()
            transport.condition.unlock()
        }
        guard !isClosed else { return }
        isClosed = true
        // Queues into this channel are gone; what it sent stays with its peers until read.
        for pipe in incoming { pipe.from.outgoing.removeAll { $0 === pipe } }
        incoming.removeAll()
        outgoing.removeAll()
        replyTo = nil
        replyPending = false
    }

    /// With the lock held.
    func hasMessage() throws(TransportError) -> Bool {
        try live()
        return incoming.contains { $0.count > 0 }
    }

    public func send(multipart frames: [Data], dontWait: Bool) throws(TransportError) -> Bool {
        transport.condition.lock()
        defer {
            transport.condition.broadcast()
            transport.condition.unlock()
        }
        try live()
        switch type {
        case .pull, .sub:
            throw .refused(operation: "send", reason: "a \(type) channel only receives")
        case .pub:
            // Never waits: a subscriber whose queue is full misses the message.
            for pipe in outgoing where pipe.hasRoom || pipe.to.options.conflate { pipe.push(frames) }
            return true
        case .rep:
            guard replyPending else { throw .refused(operation: "send", reason: "a reply needs a request received first") }
            replyPending = false
            guard let pipe = replyTo, !pipe.to.isClosed else { return true }
            replyTo = nil
            return try deliver(frames, dontWait: dontWait) { pipe.hasRoom ? pipe : nil }
        case .router:
            guard let id = frames.first else { return true }
            // Like ZeroMQ, a message to an unknown peer is dropped silently.
            guard outgoing.contains(where: { $0.peerID == id }) else { return true }
            return try deliver(Array(frames.dropFirst()), dontWait: dontWait) { self.outgoing.first { $0.peerID == id && $0.hasRoom } }
        case .push, .dealer, .req:
            return try deliver(frames, dontWait: dontWait) {
                // Round robin over the peers with room.
                let n = self.outgoing.count
                for k in 0..<n {
                    let pipe = self.outgoing[(self.nextOut + k) % n]
                    if pipe.hasRoom {
                        self.nextOut = (self.nextOut + k + 1) % n
                        return pipe
                    }
                }
                return nil
            }
        }
    }

    /// With the lock held: waits (within the send timeout) for `choose` to find a queue with room.
    private func deliver(_ frames: [Data], dontWait: Bool, choose: () -> Pipe?) throws(TransportError) -> Bool {
        if options.immediate && outgoing.isEmpty { return false }
        let timeout = dontWait ? 0 : Int(options.sendTimeoutMilliseconds ?? -1)
        let pipe = try transport.wait(timeoutMilliseconds: timeout) { () throws(TransportError) -> Pipe? in
            try live()
            return choose()
        }
        guard let pipe else { return false }
        pipe.push(frames)
        return true
    }

    public func receiveMultipart(dontWait: Bool, maxParts: Int) throws(TransportError) -> [Data]? {
        transport.condition.lock()
        defer {
            transport.condition.broadcast()
            transport.condition.unlock()
        }
        let pipe = try transport.wait(timeoutMilliseconds: dontWait ? 0 : -1) { () throws(TransportError) -> Pipe? in
            try live()
            // Fair queueing: each peer in turn.
            let n = incoming.count
            for k in 0..<n {
                let pipe = incoming[(nextIn + k) % n]
                if pipe.count > 0 {
                    nextIn = (nextIn + k + 1) % n
                    return pipe
                }
            }
            return nil
        }
        guard let pipe else { return nil }
        var message = pipe.pop()
        // A closed sender's queue goes once it is read out.
        if pipe.from.isClosed && pipe.count == 0 { incoming.removeAll { $0 === pipe } }
        switch type {
        case .router: message.insert(pipe.peerID, at: 0)
        case .rep:
            replyPending = true
            replyTo = outgoing.first { $0.to === pipe.from }
        default: break
        }
        return Array(message.prefix(maxParts))
    }

    public func waitReadable(timeoutMilliseconds: Int) throws(TransportError) -> Bool {
        try transport.readable([self], timeoutMilliseconds: timeoutMilliseconds)[0]
    }
}
