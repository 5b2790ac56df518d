import Foundation
import OniCore
import OniTestSupport
import OniWire
import Testing

@Suite struct FrameCodecTests {
    let codec = FrameCodec(maxFrameBytes: 1 << 20)

    @Test func rolloutRoundTrip() throws {
        let rollout = sampleRollout()
        let frame = codec.encode(.rollout(rollout.wire))
        #expect(frame.prefix(4) == Data([0x4F, 0x4E, WireProtocol.version, MessageKind.rollout.rawValue]))
        guard case let .rollout(wire) = try codec.decode(frame) else {
            Issue.record("decoded to another kind")
            return
        }
        #expect(try Rollout(wire: wire) == rollout)
    }

    /// A message and a pair stay what they are across the wire, a pair holding the empty message included.
    @Test func annotationItemsKeepWhetherTheyArePairs() throws {
        let items = [
            AnnotationItem(messageID: 1, text: "You kill the rat!"), AnnotationItem(messageID: 2, text: "", secondText: nil),
            AnnotationItem(messageID: 3, text: "You kill the rat!", secondText: ""), AnnotationItem(messageID: 4, text: "", secondText: "It's a wall."),
        ]
        var request = Oni_V1_AnnotationRequest()
        request.items = items.map(\.wire)
        guard case let .annotationRequest(decoded) = try codec.decode(codec.encode(.annotationRequest(request))) else {
            Issue.record("not a request")
            return
        }
        #expect(decoded.items.map { AnnotationItem(wire: $0) } == items)
    }

    @Test func everyKindRoundTrips() throws {
        var hello = Oni_V1_Hello()
        hello.id = "worker-3"
        var heartbeat = Oni_V1_Heartbeat()
        heartbeat.envSteps = 12345
        var params = Oni_V1_Params()
        params.version = 9
        var request = Oni_V1_AnnotationRequest()
        request.items = [AnnotationItem(messageID: 4, text: "You kill the rat!").wire]
        var reply = Oni_V1_AnnotationReply()
        reply.results = [AnnotationResult(messageID: 4, outcome: .labelled(value: 1, confidence: 0.9), model: "m", promptHash: "h", reply: "r").wire]
        var metrics = Oni_V1_Metrics()
        metrics.values = ["env/fps": 1000]
        var status = Oni_V1_StatusRequest()
        status.client = "test"
        let messages: [WireMessage] = [
            .hello(hello), .heartbeat(heartbeat), .params(params), .annotationRequest(request),
            .annotationReply(reply), .metrics(metrics), .statusRequest(status),
        ]
        for message in messages {
            let decoded = try codec.decode(codec.encode(message))
            #expect(decoded.kind == message.kind)
            #expect(codec.encode(decoded) == codec.encode(message))
        }
    }

    @Test func badFramesAreRefusedWithTypedErrors() {
        let good = codec.encode(.rollout(sampleRollout().wire))
        #expect(throws: FrameError.truncated(size: 2)) { try codec.decode(Data([0x4F, 0x4E])) }
        #expect(throws: FrameError.badMagic) { try codec.decode(Data([0x00, 0x4E, 1, 3])) }
        var otherVersion = good
        otherVersion[2] = 2
        #expect(throws: FrameError.versionMismatch(received: 2, expected: WireProtocol.version)) { try codec.decode(otherVersion) }
        var unknown = good
        unknown[3] = 200
        #expect(throws: FrameError.unknownKind(200)) { try codec.decode(unknown) }
        let small = FrameCodec(maxFrameBytes: 100)
        #expect(throws: FrameError.oversized(size: good.count, limit: 100)) { try small.decode(good) }
        // Cut in the middle of a field: invalid protobuf.
        let cut = good.prefix(good.count - 7)
        do {
            _ = try codec.decode(Data(cut))
            Issue.record("truncated body decoded")
        } catch {
            guard case .invalidPayload(kind: .rollout, _) = error else {
                Issue.record("wrong error \(error)")
                return
            }
        }
    }

    @Test func rolloutThatLiesAboutItsSizesIsRefused() throws {
        var wire = sampleRollout().wire
        wire.numSteps = 5
        #expect(throws: WireConversionError.self) { try Rollout(wire: wire) }
        wire = sampleRollout().wire
        wire.messages = []
        #expect(throws: WireConversionError.self) { try Rollout(wire: wire) }
        wire = sampleRollout().wire
        wire.rewards.data.removeLast()
        #expect(throws: WireConversionError.self) { try Rollout(wire: wire) }
        wire = sampleRollout().wire
        wire.actions.dtype = .float32
        #expect(throws: WireConversionError.self) { try Rollout(wire: wire) }
        // The recurrent state must be [B, S], the behaviour values [T, B].
        wire = sampleRollout().wire
        wire.coreState.shape = [2, 3]
        #expect(throws: WireConversionError.self) { try Rollout(wire: wire) }
        wire = sampleRollout().wire
        wire.behaviourValues.data.removeLast(4)
        #expect(throws: WireConversionError.self) { try Rollout(wire: wire) }
        // Both are optional: a feed-forward policy's or a random actor's rollout has neither.
        wire = sampleRollout().wire
        wire.clearCoreState()
        wire.clearBehaviourValues()
        let plain = try Rollout(wire: wire)
        #expect(plain.coreState.isEmpty && plain.behaviourValues.isEmpty)
    }

    @Test func hostileTensorShapesAreRefusedNotTrapped() throws {
        for shape: [Int64] in [[2_147_483_647, 2_147_483_647], [-1, 4], [Int64.max, 2], Array(repeating: 2, count: 9), [1 << 40]] {
            var wire = sampleRollout().wire
            wire.observations[0].tensor.shape = shape
            #expect(throws: WireConversionError.self) { try Rollout(wire: wire) }
        }
    }

    @Test func annotationResultsRoundTrip() throws {
        let results = [
            AnnotationResult(messageID: 1, outcome: .labelled(value: 0, confidence: 0.75), model: "qwen", promptHash: "abc", reply: "<label>no</label>"),
            AnnotationResult(messageID: 2, outcome: .unparseable(reason: "no label"), model: "qwen", promptHash: "abc", reply: "hmm"),
            AnnotationResult(messageID: 3, outcome: .backendError(reason: "HTTP 500"), model: "qwen", promptHash: "abc", reply: ""),
            AnnotationResult(messageID: 4, outcome: .disagreed(reason: "logprob yes, tagged no"), model: "qwen", promptHash: "abc", reply: "yes | no"),
        ]
        for result in results { #expect(try AnnotationResult(wire: result.wire) == result) }
        var noStatus = results[0].wire
        noStatus.status = .unspecified
        #expect(throws: WireConversionError.self) { try AnnotationResult(wire: noStatus) }
    }
}
