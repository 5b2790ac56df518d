import Foundation
import Logging
import OniCore
import OniTestSupport
import OniTransport
import OniWire
import Testing

let testLogger = Logger(label: "oni.test")

/// The transports every pattern test runs over: ZeroMQ between processes, and in memory.
enum TransportKind: String, CaseIterable, CustomTestStringConvertible {
    case zeroMQ, inMemory
    static let context = ZMQContext()

    func make() -> any Transport {
        switch self {
        case .zeroMQ: Self.context
        case .inMemory: InMemoryTransport()
        }
    }

    /// An address to bind to, with the port left to the transport.
    var anyAddress: String { self == .zeroMQ ? "tcp://127.0.0.1:*" : "mem://test:*" }
    var testDescription: String { rawValue }
}

@Suite(.serialized) struct TransportTests {
    static func pair(
        _ transport: any Transport, _ endpoint: String, maxFrameBytes: Int = WireProtocol.defaultMaxFrameBytes
    ) throws -> (MessageChannel, MessageChannel) {
        let codec = FrameCodec(maxFrameBytes: maxFrameBytes)
        let pull = try MessageChannel(transport: transport, type: .pull, .bind(endpoint), name: "pull", accepts: [.rollout, .hello], codec: codec, logger: testLogger)
        let push = try MessageChannel(transport: transport, type: .push, .connect(pull.lastEndpoint()), name: "push", accepts: [], codec: codec, logger: testLogger)
        return (push, pull)
    }

    @Test(arguments: [
        (TransportKind.zeroMQ, "tcp://127.0.0.1:*"), (.zeroMQ, "ipc:///tmp/oni-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"),
        (.inMemory, "mem://learner/experience"),
    ])
    func pushPullRoundTrip(kind: TransportKind, endpoint: String) throws {
        let (push, pull) = try Self.pair(kind.make(), endpoint)
        defer { push.close(); pull.close() }
        for sequence in UInt64(0)..<20 {
            try push.send(.rollout(sampleRollout(sequence: sequence).wire))
        }
        for sequence in UInt64(0)..<20 {
            guard case let .rollout(wire) = try pull.receive(timeoutMilliseconds: 5000) else {
                Issue.record("no rollout \(sequence)")
                return
            }
            #expect(try Rollout(wire: wire) == sampleRollout(sequence: sequence))
        }
        #expect(pull.counters.received == 20)
        #expect(pull.counters.refusedTotal == 0)
    }

    /// A message over the frame limit is not sent: counted and named where it is made, instead
    /// of refused at the other end or dropped unseen with the connection (libzmq's ceiling).
    @Test(arguments: TransportKind.allCases)
    func aMessageOverTheLimitIsRefusedByItsSenderAndCounted(kind: TransportKind) throws {
        let (push, pull) = try Self.pair(kind.make(), kind.anyAddress, maxFrameBytes: 512)
        defer { push.close(); pull.close() }
        let big = sampleRollout(steps: 40, envs: 8)
        let size = FrameCodec().encode(.rollout(big.wire)).count
        #expect(size > 512)
        #expect(throws: TransportError.tooLarge(kind: "Rollout", size: size, limit: 512)) { try push.send(.rollout(big.wire)) }
        #expect(push.counters.tooLarge == 1 && push.counters.sent == 0)
        #expect("\(TransportError.tooLarge(kind: "Rollout", size: size, limit: 512))".contains("--max-frame-bytes"))
        // The channel goes on: a message within the limit arrives, nothing else does.
        var hello = Oni_V1_Hello()
        hello.id = "small"
        try push.send(.hello(hello))
        guard case let .hello(received)? = try pull.receive(timeoutMilliseconds: 5000) else {
            Issue.record("the small message did not arrive")
            return
        }
        #expect(received.id == "small" && pull.counters.refusedTotal == 0)
        #expect(try pull.receive(timeoutMilliseconds: 100) == nil)
    }

    @Test(arguments: TransportKind.allCases)
    func everyBadFrameIsRefusedAndCountedAndTheSocketKeepsWorking(kind: TransportKind) throws {
        let (push, pull) = try Self.pair(kind.make(), kind.anyAddress, maxFrameBytes: 4096)
        defer { push.close(); pull.close() }
        let codec = FrameCodec()
        let good = codec.encode(.rollout(sampleRollout().wire))
        var otherVersion = good
        otherVersion[2] = 9
        var unknownKind = good
        unknownKind[3] = 77
        var metrics = Oni_V1_Metrics()
        metrics.envSteps = 1
        let bad: [Data] = [
            Data([0x4F]),  // truncated
            Data(repeating: 0x4F, count: 5000),  // oversized
            Data("GET / HTTP/1.1\r\n".utf8),  // bad magic
            otherVersion,
            unknownKind,
            good.prefix(good.count - 5),  // invalid payload
            codec.encode(.metrics(metrics)),  // unexpected kind
        ]
        for frame in bad { _ = try push.channel.send(multipart: [frame], dontWait: false) }
        try push.send(.rollout(sampleRollout(sequence: 99).wire))
        guard case let .rollout(wire) = try pull.receive(timeoutMilliseconds: 5000) else {
            Issue.record("the good frame after the bad ones was not received")
            return
        }
        #expect(wire.sequence == 99)
        #expect(pull.counters.refused == [
            "truncated": 1, "oversized": 1, "bad_magic": 1, "version_mismatch": 1, "unknown_kind": 1,
            "invalid_payload": 1, "unexpected_kind": 1,
        ])
        #expect(pull.counters.received == 1)
    }

    @Test(arguments: TransportKind.allCases)
    func dealerRouterRoundTripKeepsPeers(kind: TransportKind) throws {
        let transport = kind.make()
        let router = try MessageChannel(transport: transport, type: .router, .bind(kind.anyAddress), name: "router", accepts: [.annotationRequest], logger: testLogger)
        let endpoint = try router.lastEndpoint()
        var dealers: [MessageChannel] = []
        for i in 0..<3 {
            dealers.append(
                try MessageChannel(
                    transport: transport, type: .dealer, .connect(endpoint), options: ChannelOptions(routingID: "learner-\(i)"),
                    name: "dealer\(i)", accepts: [.annotationReply], logger: testLogger))
        }
        defer { router.close(); dealers.forEach { $0.close() } }
        for (i, d) in dealers.enumerated() {
            var request = Oni_V1_AnnotationRequest()
            request.requestID = UInt64(i)
            try d.send(.annotationRequest(request))
        }
        for _ in 0..<3 {
            guard let routed = try router.receiveRouted(timeoutMilliseconds: 5000), case let .annotationRequest(request) = routed.message else {
                Issue.record("no request")
                return
            }
            #expect(String(decoding: routed.peer, as: UTF8.self) == "learner-\(request.requestID)")
            var reply = Oni_V1_AnnotationReply()
            reply.requestID = request.requestID
            try router.send(.annotationReply(reply), to: routed.peer)
        }
        for (i, d) in dealers.enumerated() {
            guard case let .annotationReply(reply) = try d.receive(timeoutMilliseconds: 5000) else {
                Issue.record("dealer \(i) got no reply")
                return
            }
            #expect(reply.requestID == UInt64(i))
        }
    }

    @Test(arguments: TransportKind.allCases)
    func pubSubDeliversToSubscribers(kind: TransportKind) throws {
        let transport = kind.make()
        let pub = try MessageChannel(transport: transport, type: .pub, .bind(kind.anyAddress), name: "pub", accepts: [], logger: testLogger)
        let sub = try MessageChannel(transport: transport, type: .sub, .connect(pub.lastEndpoint()), name: "sub", accepts: [.metrics], logger: testLogger)
        defer { pub.close(); sub.close() }
        // PUB drops until the subscription has propagated: publish until one arrives.
        var got: Oni_V1_Metrics?
        for i in 0..<200 where got == nil {
            var m = Oni_V1_Metrics()
            m.envSteps = UInt64(i)
            try pub.send(.metrics(m))
            if case let .metrics(received) = try sub.receive(timeoutMilliseconds: 20) { got = received }
        }
        #expect(got != nil)
    }

    @Test(arguments: TransportKind.allCases)
    func receiveTimesOutWithoutPeers(kind: TransportKind) throws {
        let pull = try MessageChannel(transport: kind.make(), type: .pull, .bind(kind.anyAddress), name: "lonely", accepts: [.rollout], logger: testLogger)
        defer { pull.close() }
        #expect(try pull.receive(timeoutMilliseconds: 50) == nil)
    }

    @Test(arguments: TransportKind.allCases)
    func bindingABusyAddressIsATypedError(kind: TransportKind) throws {
        let transport = kind.make()
        let a = try transport.open(.pull, .bind(kind.anyAddress), options: ChannelOptions())
        let endpoint = try a.lastEndpoint()
        defer { a.close() }
        #expect(throws: TransportError.self) { try transport.open(.pull, .bind(endpoint), options: ChannelOptions()) }
    }
}
