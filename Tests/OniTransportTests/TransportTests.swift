import Foundation
import Logging
import OniCore
import OniTestSupport
import OniTransport
import OniWire
import Testing

let testLogger = Logger(label: "oni.test")

@Suite(.serialized) struct TransportTests {
    let context = ZMQContext()

    func pair(_ endpoint: String, maxFrameBytes: Int = WireProtocol.defaultMaxFrameBytes) throws -> (MessageSocket, MessageSocket) {
        let codec = FrameCodec(maxFrameBytes: maxFrameBytes)
        let pull = try MessageSocket(context: context, type: .pull, name: "pull", accepts: [.rollout, .hello], codec: codec, logger: testLogger)
        try pull.socket.bind(endpoint)
        let bound = try pull.socket.lastEndpoint()
        let push = try MessageSocket(context: context, type: .push, name: "push", accepts: [], codec: codec, logger: testLogger)
        try push.socket.connect(bound)
        return (push, pull)
    }

    @Test(arguments: ["tcp://127.0.0.1:*", "ipc:///tmp/oni-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"])
    func pushPullRoundTrip(endpoint: String) throws {
        let (push, pull) = try pair(endpoint)
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

    @Test func everyBadFrameIsRefusedAndCountedAndTheSocketKeepsWorking() throws {
        let (push, pull) = try pair("tcp://127.0.0.1:*", maxFrameBytes: 4096)
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
        for frame in bad { try push.socket.send(frame) }
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

    @Test func dealerRouterRoundTripKeepsPeers() throws {
        let router = try MessageSocket(context: context, type: .router, name: "router", accepts: [.annotationRequest], logger: testLogger)
        try router.socket.bind("tcp://127.0.0.1:*")
        let endpoint = try router.socket.lastEndpoint()
        var dealers: [MessageSocket] = []
        for i in 0..<3 {
            let d = try MessageSocket(context: context, type: .dealer, name: "dealer\(i)", accepts: [.annotationReply], logger: testLogger)
            try d.socket.setRoutingID("learner-\(i)")
            try d.socket.connect(endpoint)
            dealers.append(d)
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

    @Test func pubSubDeliversToSubscribers() throws {
        let pub = try MessageSocket(context: context, type: .pub, name: "pub", accepts: [], logger: testLogger)
        try pub.socket.bind("tcp://127.0.0.1:*")
        let sub = try MessageSocket(context: context, type: .sub, name: "sub", accepts: [.metrics], logger: testLogger)
        try sub.socket.connect(try pub.socket.lastEndpoint())
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

    @Test func receiveTimesOutWithoutPeers() throws {
        let pull = try MessageSocket(context: context, type: .pull, name: "lonely", accepts: [.rollout], logger: testLogger)
        try pull.socket.bind("tcp://127.0.0.1:*")
        defer { pull.close() }
        #expect(try pull.receive(timeoutMilliseconds: 50) == nil)
    }

    @Test func bindingABusyPortIsATypedError() throws {
        let a = try ZMQSocket(context: context, type: .pull)
        try a.bind("tcp://127.0.0.1:*")
        let endpoint = try a.lastEndpoint()
        let b = try ZMQSocket(context: context, type: .pull)
        defer { a.close(); b.close() }
        #expect(throws: TransportError.self) { try b.bind(endpoint) }
    }
}
