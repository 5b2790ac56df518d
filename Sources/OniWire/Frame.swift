import Foundation
import SwiftProtobuf

/// The framing every Oni ZeroMQ frame uses: a 4-byte header, then one
/// protobuf message of package `oni.v1`.
///
/// | byte | meaning |
/// | --- | --- |
/// | 0–1 | magic `"ON"` (0x4F 0x4E) |
/// | 2 | protocol version (`WireProtocol.version`) |
/// | 3 | message kind (`MessageKind`) |
public enum WireProtocol {
    /// The protocol version this build speaks.
    public static let version: UInt8 = 1
    /// Bytes before the protobuf body.
    public static let headerSize = 4
    static let magic0: UInt8 = 0x4F
    static let magic1: UInt8 = 0x4E
    /// Default largest frame accepted: 64 MiB.
    public static let defaultMaxFrameBytes = 64 << 20
}

/// Which message a frame carries (header byte 3).
public enum MessageKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 1
    case heartbeat = 2
    case rollout = 3
    case params = 4
    case annotationRequest = 5
    case annotationReply = 6
    case metrics = 7
    case statusRequest = 8

    public var description: String {
        switch self {
        case .hello: "Hello"
        case .heartbeat: "Heartbeat"
        case .rollout: "Rollout"
        case .params: "Params"
        case .annotationRequest: "AnnotationRequest"
        case .annotationReply: "AnnotationReply"
        case .metrics: "Metrics"
        case .statusRequest: "StatusRequest"
        }
    }
}

/// A decoded frame.
public enum WireMessage: Sendable {
    case hello(Oni_V1_Hello)
    case heartbeat(Oni_V1_Heartbeat)
    case rollout(Oni_V1_Rollout)
    case params(Oni_V1_Params)
    case annotationRequest(Oni_V1_AnnotationRequest)
    case annotationReply(Oni_V1_AnnotationReply)
    case metrics(Oni_V1_Metrics)
    case statusRequest(Oni_V1_StatusRequest)

    public var kind: MessageKind {
        switch self {
        case .hello: .hello
        case .heartbeat: .heartbeat
        case .rollout: .rollout
        case .params: .params
        case .annotationRequest: .annotationRequest
        case .annotationReply: .annotationReply
        case .metrics: .metrics
        case .statusRequest: .statusRequest
        }
    }

    var body: any SwiftProtobuf.Message {
        switch self {
        case let .hello(m): m
        case let .heartbeat(m): m
        case let .rollout(m): m
        case let .params(m): m
        case let .annotationRequest(m): m
        case let .annotationReply(m): m
        case let .metrics(m): m
        case let .statusRequest(m): m
        }
    }
}

/// Why a frame was refused. Every case names what was wrong.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Shorter than the 4-byte header.
    case truncated(size: Int)
    /// Larger than the configured limit.
    case oversized(size: Int, limit: Int)
    /// The first two bytes are not "ON": not an Oni frame.
    case badMagic
    /// Sent by a peer speaking another protocol version.
    case versionMismatch(received: UInt8, expected: UInt8)
    /// Header byte 3 names no known message.
    case unknownKind(UInt8)
    /// The body is not a valid protobuf encoding of the named message.
    case invalidPayload(kind: MessageKind, reason: String)
    /// A well-formed message of a kind this socket does not accept.
    case unexpectedKind(MessageKind)

    /// A short stable name for counting, e.g. "oversized".
    public var counterName: String {
        switch self {
        case .truncated: "truncated"
        case .oversized: "oversized"
        case .badMagic: "bad_magic"
        case .versionMismatch: "version_mismatch"
        case .unknownKind: "unknown_kind"
        case .invalidPayload: "invalid_payload"
        case .unexpectedKind: "unexpected_kind"
        }
    }

    public var description: String {
        switch self {
        case let .truncated(size): "truncated frame: \(size) bytes, shorter than the \(WireProtocol.headerSize)-byte header"
        case let .oversized(size, limit): "oversized frame: \(size) bytes, limit \(limit)"
        case .badMagic: "not an Oni frame (bad magic bytes)"
        case let .versionMismatch(received, expected):
            "peer speaks Oni protocol v\(received), this build speaks v\(expected): upgrade the older side"
        case let .unknownKind(kind): "unknown message kind \(kind)"
        case let .invalidPayload(kind, reason): "invalid \(kind) payload: \(reason)"
        case let .unexpectedKind(kind): "unexpected \(kind) on this socket"
        }
    }
}

/// Encodes and decodes Oni frames with a size limit.
public struct FrameCodec: Sendable {
    /// Frames larger than this many bytes are refused.
    public var maxFrameBytes: Int

    public init(maxFrameBytes: Int = WireProtocol.defaultMaxFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Encodes `message` with the header. Serialising a well-formed message cannot fail.
    public func encode(_ message: WireMessage) -> Data {
        var frame = Data([WireProtocol.magic0, WireProtocol.magic1, WireProtocol.version, message.kind.rawValue])
        // swiftlint:disable:next force_try
        frame.append(try! message.body.serializedData())
        return frame
    }

    /// Decodes one frame, refusing anything malformed with a typed error.
    public func decode(_ frame: Data) throws(FrameError) -> WireMessage {
        guard frame.count >= WireProtocol.headerSize else { throw .truncated(size: frame.count) }
        guard frame.count <= maxFrameBytes else { throw .oversized(size: frame.count, limit: maxFrameBytes) }
        let start = frame.startIndex
        guard frame[start] == WireProtocol.magic0, frame[start + 1] == WireProtocol.magic1 else { throw .badMagic }
        guard frame[start + 2] == WireProtocol.version else {
            throw .versionMismatch(received: frame[start + 2], expected: WireProtocol.version)
        }
        guard let kind = MessageKind(rawValue: frame[start + 3]) else { throw .unknownKind(frame[start + 3]) }
        let body = frame.dropFirst(WireProtocol.headerSize)
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 32
        do {
            switch kind {
            case .hello: return .hello(try Oni_V1_Hello(serializedBytes: body, options: options))
            case .heartbeat: return .heartbeat(try Oni_V1_Heartbeat(serializedBytes: body, options: options))
            case .rollout: return .rollout(try Oni_V1_Rollout(serializedBytes: body, options: options))
            case .params: return .params(try Oni_V1_Params(serializedBytes: body, options: options))
            case .annotationRequest:
                return .annotationRequest(try Oni_V1_AnnotationRequest(serializedBytes: body, options: options))
            case .annotationReply:
                return .annotationReply(try Oni_V1_AnnotationReply(serializedBytes: body, options: options))
            case .metrics: return .metrics(try Oni_V1_Metrics(serializedBytes: body, options: options))
            case .statusRequest: return .statusRequest(try Oni_V1_StatusRequest(serializedBytes: body, options: options))
            }
        } catch {
            throw .invalidPayload(kind: kind, reason: String(describing: error))
        }
    }
}
