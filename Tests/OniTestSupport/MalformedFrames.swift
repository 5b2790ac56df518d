import Foundation
import OniCore
import OniWire

/// A seeded generator of frames a receiver must refuse: every kind of damage the framing
/// can suffer (too short, not ours, another version, unknown kind, broken protobuf, too
/// large), well-formed messages the socket does not take, and, for sockets whose roles check
/// contents, well-formed messages whose contents lie (a Rollout whose tensors do not fit, an
/// annotation reply whose result has no status or a label that is not a number).
public struct MalformedFrames {
    public enum Damage: CaseIterable, Sendable {
        case truncated, badMagic, otherVersion, unknownKind, brokenPayload, cutPayload, unexpectedKind, lyingRollout, lyingReply, oversized
    }

    private var generator: SeededGenerator
    /// Kinds the receiving socket takes; `unexpectedKind` picks the others.
    public let accepts: Set<MessageKind>
    private let accepted: [MessageKind]
    /// The receiver's frame limit; `oversized` frames are a little above it.
    public let maxFrameBytes: Int
    /// Kinds of damage to draw from.
    public let damages: [Damage]
    /// Damage only a role's own content check sees (the framing takes these frames).
    public static let contentDamages: Set<Damage> = [.lyingRollout, .lyingReply]
    private let validRollout: Data
    /// Where each top-level field of `validRollout` starts, and its content's bytes if length-delimited.
    private let rolloutFields: [(start: Int, content: Range<Int>?)]

    public init(seed: UInt64, accepts: Set<MessageKind>, maxFrameBytes: Int, damages: [Damage]? = nil) {
        generator = SeededGenerator(seed: seed)
        self.accepts = accepts
        accepted = accepts.sorted { $0.rawValue < $1.rawValue }  // a Set's order changes from run to run
        self.maxFrameBytes = maxFrameBytes
        self.damages = damages ?? Damage.allCases.filter {
            ($0 != .lyingRollout || accepts.contains(.rollout)) && ($0 != .lyingReply || accepts.contains(.annotationReply))
        }
        validRollout = FrameCodec().encode(.rollout(sampleRollout().wire))
        rolloutFields = Self.topLevelFields(of: [UInt8](validRollout), from: WireProtocol.headerSize)
    }

    /// The top-level fields of a protobuf body (varint and length-delimited fields only).
    static func topLevelFields(of bytes: [UInt8], from start: Int) -> [(start: Int, content: Range<Int>?)] {
        func varint(_ i: inout Int) -> Int {
            var value = 0, shift = 0
            while bytes[i] & 0x80 != 0 {
                value |= Int(bytes[i] & 0x7F) << shift
                shift += 7
                i += 1
            }
            value |= Int(bytes[i]) << shift
            i += 1
            return value
        }
        var fields: [(start: Int, content: Range<Int>?)] = []
        var i = start
        while i < bytes.count {
            let fieldStart = i
            let tag = varint(&i)
            switch tag & 7 {
            case 0:
                _ = varint(&i)
                fields.append((fieldStart, nil))
            case 2:
                let length = varint(&i)
                fields.append((fieldStart, i..<(i + length)))
                i += length
            default:
                preconditionFailure("the sample rollout has only varint and length-delimited fields")
            }
        }
        return fields
    }

    private mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    private mutating func header(kind: UInt8) -> [UInt8] { [0x4F, 0x4E, WireProtocol.version, kind] }

    /// The next damaged frame and the damage done.
    public mutating func next() -> (frame: Data, damage: Damage) {
        let damage = damages[generator.below(damages.count)]
        let length = generator.below(512)
        var frame: [UInt8]
        switch damage {
        case .truncated:
            frame = bytes(generator.below(WireProtocol.headerSize))
        case .badMagic:
            frame = bytes(WireProtocol.headerSize + length)
            if frame[0] == 0x4F && frame[1] == 0x4E { frame[1] = 0x00 }
        case .otherVersion:
            var version = UInt8.random(in: 0...255, using: &generator)
            if version == WireProtocol.version { version &+= 1 }
            frame = [0x4F, 0x4E, version, UInt8.random(in: 1...8, using: &generator)] + bytes(length)
        case .unknownKind:
            let known = Set(MessageKind.allCases.map(\.rawValue))
            var kind = UInt8.random(in: 0...255, using: &generator)
            while known.contains(kind) { kind &+= 9 }
            frame = header(kind: kind) + bytes(length)
        case .brokenPayload:
            // A protobuf body that cannot parse: field number 0, the reserved wire types 6 and 7,
            // or a length running past the end.
            let starts: [[UInt8]] = [[0x00], [0x0E], [0x0F], [0x0A, 0xFF, 0xFF, 0x7F]]
            let kind = accepted.randomElement(using: &generator)?.rawValue ?? 1
            frame = header(kind: kind) + starts[generator.below(starts.count)] + bytes(length % 16)
        case .cutPayload:
            // A valid rollout cut short: inside one of its length-delimited fields (which then claims
            // more bytes than are left), or between two fields followed by a field claiming 64 KiB.
            let field = rolloutFields[generator.below(rolloutFields.count)]
            if generator.below(2) == 0, let content = field.content, content.count > 1 {
                frame = Array(validRollout.prefix(content.lowerBound + 1 + generator.below(content.count - 1)))
            } else {
                frame = Array(validRollout.prefix(field.start)) + [0x0A, 0xFF, 0xFF, 0x03] + bytes(length % 32)
            }
        case .unexpectedKind:
            let others = MessageKind.allCases.filter { !accepts.contains($0) }
            let kind = others.randomElement(using: &generator) ?? .metrics
            frame = [UInt8](FrameCodec().encode(Self.wellFormed(kind)))
        case .lyingRollout:
            var wire = sampleRollout().wire
            switch generator.below(4) {
            case 0: wire.numSteps += UInt32(generator.below(5) + 1)
            case 1: wire.numEnvs = 0
            case 2: wire.actions.data = Data(bytes(generator.below(40)))
            default: wire.messageIndex.data = Data(repeating: 0x7F, count: wire.messageIndex.data.count)
            }
            frame = [UInt8](FrameCodec().encode(.rollout(wire)))
        case .lyingReply:
            var reply = Oni_V1_AnnotationReply()
            reply.requestID = UInt64(generator.below(1000))
            var result = Oni_V1_AnnotationResult()
            result.messageID = UInt64(generator.below(1000))
            switch generator.below(3) {
            case 0: result.status = .unspecified
            case 1: (result.status, result.label) = (.labelled, .nan)
            default: (result.status, result.label, result.confidence) = (.labelled, 1, -.infinity)
            }
            reply.results = [result]
            frame = [UInt8](FrameCodec().encode(.annotationReply(reply)))
        case .oversized:
            frame = header(kind: accepted.randomElement(using: &generator)?.rawValue ?? 1)
                + [UInt8](repeating: 0x42, count: maxFrameBytes + 1 + generator.below(1024))
        }
        return (Data(frame), damage)
    }

    /// A well-formed message of `kind`, with some content.
    public static func wellFormed(_ kind: MessageKind) -> WireMessage {
        switch kind {
        case .hello:
            var m = Oni_V1_Hello()
            m.role = "worker"
            m.id = "fuzz"
            return .hello(m)
        case .heartbeat:
            var m = Oni_V1_Heartbeat()
            m.id = "fuzz"
            return .heartbeat(m)
        case .rollout: return .rollout(sampleRollout().wire)
        case .params:
            var m = Oni_V1_Params()
            m.version = 3
            return .params(m)
        case .annotationRequest:
            var m = Oni_V1_AnnotationRequest()
            m.requestID = 9
            return .annotationRequest(m)
        case .annotationReply:
            var m = Oni_V1_AnnotationReply()
            m.requestID = 9
            return .annotationReply(m)
        case .metrics:
            var m = Oni_V1_Metrics()
            m.envSteps = 1
            return .metrics(m)
        case .statusRequest:
            var m = Oni_V1_StatusRequest()
            m.client = "fuzz"
            return .statusRequest(m)
        }
    }
}

/// Resident memory of process `pid` in bytes (Linux), nil if it is gone.
public func residentBytes(pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    else { return nil }
    return kb * 1024
}
