import Foundation
import OniCore
import OniTestSupport
import OniTransport
import OniWire
import Testing

/// 100,000 damaged frames into each receiving channel, as the roles configure them: every
/// frame refused by the framing and counted under its reason, nothing accepted. This is the
/// framing alone; what only a role's own content check can refuse (rollouts and replies that
/// lie) goes through the roles themselves: in process in `RoleFuzzTests`, and into the
/// processes over real sockets in `FaultTests`, where their memory is measured.
@Suite(.serialized) struct FrameFuzzTests {
    static let framesPerHandler = 100_000
    static let maxFrameBytes = 4096

    /// The receiving sockets of the roles: type, what each accepts, and its content check.
    struct Handler: Sendable, CustomTestStringConvertible {
        var name: String
        var type: SocketType
        var accepts: Set<MessageKind>
        var testDescription: String { name }
    }

    static let handlers = [
        Handler(name: "learner experience (PULL)", type: .pull, accepts: [.rollout, .hello, .heartbeat]),
        Handler(name: "learner control (REP)", type: .rep, accepts: [.statusRequest]),
        Handler(name: "learner annotator replies (DEALER)", type: .dealer, accepts: [.annotationReply, .heartbeat]),
        Handler(name: "annotator requests (ROUTER)", type: .router, accepts: [.annotationRequest, .heartbeat]),
        Handler(name: "worker params (SUB)", type: .sub, accepts: [.params]),
        Handler(name: "metrics viewer (SUB)", type: .sub, accepts: [.metrics]),
        Handler(name: "status and health clients (REQ, DEALER)", type: .req, accepts: [.metrics, .heartbeat]),
    ]

    /// What one handler did with the frames.
    struct Outcome: Sendable {
        var accepted = 0
        var refusedTotal = 0
        var refused: [String: Int] = [:]
        var damages: Set<MalformedFrames.Damage> = []
        var expectedDamages: Set<MalformedFrames.Damage> = []
    }

    static func feed(_ handler: Handler) throws -> Outcome {
        // Frames go straight to `accept`: the channel only needs to exist.
        let socket = try MessageChannel(
            transport: InMemoryTransport(), type: handler.type, .bind("mem://fuzz"), name: handler.name, accepts: handler.accepts,
            codec: FrameCodec(maxFrameBytes: Self.maxFrameBytes), logger: testLogger)
        defer { socket.close() }
        let framing = MalformedFrames.Damage.allCases.filter { !MalformedFrames.contentDamages.contains($0) }
        var frames = MalformedFrames(seed: 42, accepts: handler.accepts, maxFrameBytes: Self.maxFrameBytes, damages: framing)
        let routed = handler.type == .router
        var outcome = Outcome(expectedDamages: Set(frames.damages))
        for i in 0..<Self.framesPerHandler {
            let (frame, damage) = frames.next()
            outcome.damages.insert(damage)
            // A ROUTER sees the sender's routing id first; every tenth frame comes with a stray extra part.
            var parts = routed ? [Data("peer-\(i % 7)".utf8), frame] : [frame]
            if i % 10 == 9 && damage == .unexpectedKind { parts.append(Data([1, 2, 3])) }
            if socket.accept(parts) != nil { outcome.accepted += 1 }
        }
        outcome.refusedTotal = socket.counters.refusedTotal
        outcome.refused = socket.counters.refused
        return outcome
    }

    @Test(arguments: handlers) func everyDamagedFrameIsRefusedAndCounted(handler: Handler) async throws {
        // Long and CPU-bound: on a thread of its own, not one of the few that run the async tests.
        let outcome = try await withCheckedThrowingContinuation { (done: CheckedContinuation<Outcome, any Error>) in
            Thread { done.resume(with: Result { try Self.feed(handler) }) }.start()
        }
        #expect(outcome.accepted == 0)
        #expect(outcome.refusedTotal == Self.framesPerHandler, "\(outcome.refused)")
        // Every kind of damage was tried and each has its own count.
        #expect(outcome.damages == outcome.expectedDamages)
        for name in ["truncated", "bad_magic", "version_mismatch", "unknown_kind", "invalid_payload", "unexpected_kind", "oversized"] {
            #expect((outcome.refused[name] ?? 0) > 1000, "\(name): \(outcome.refused)")
        }
    }

    @Test func theGeneratorIsDeterministic() {
        var a = MalformedFrames(seed: 7, accepts: [.rollout], maxFrameBytes: 1024)
        var b = MalformedFrames(seed: 7, accepts: [.rollout], maxFrameBytes: 1024)
        for _ in 0..<1000 { #expect(a.next().frame == b.next().frame) }
    }
}
