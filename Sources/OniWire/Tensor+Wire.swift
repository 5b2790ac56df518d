import Foundation
import OniCore

/// Why a well-formed protobuf message does not make a valid Oni value.
public struct WireConversionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Which message and what was wrong with it.
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension ElementType {
    init(wire: Oni_V1_DType) throws(WireConversionError) {
        switch wire {
        case .float32: self = .float32
        case .int32: self = .int32
        case .uint8: self = .uint8
        case .int64: self = .int64
        case .unspecified, .UNRECOGNIZED: throw WireConversionError("tensor with unspecified or unknown dtype")
        }
    }

    var wire: Oni_V1_DType {
        switch self {
        case .float32: .float32
        case .int32: .int32
        case .uint8: .uint8
        case .int64: .int64
        }
    }
}

extension Tensor {
    /// The protobuf form of this tensor.
    public var wire: Oni_V1_Tensor {
        var t = Oni_V1_Tensor()
        t.dtype = elementType.wire
        t.shape = shape.map(Int64.init)
        t.data = bytes
        return t
    }

    /// Converts from protobuf, checking dtype, shape and byte count agree.
    public init(wire: Oni_V1_Tensor) throws(WireConversionError) {
        let type = try ElementType(wire: wire.dtype)
        guard let expected = Tensor.byteCount(shape: wire.shape, elementType: type) else {
            throw WireConversionError("tensor shape \(wire.shape.prefix(Tensor.maxRank + 1)) is negative, too deep or too large")
        }
        guard expected == wire.data.count else {
            throw WireConversionError("tensor of shape \(wire.shape) and dtype \(type) cannot hold \(wire.data.count) bytes")
        }
        self.init(elementType: type, shape: wire.shape.map { Int($0) }, bytes: wire.data)
    }
}
