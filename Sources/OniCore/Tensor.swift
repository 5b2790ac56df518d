import Foundation

/// A dense row-major tensor held as raw little-endian bytes.
public struct Tensor: Sendable, Hashable {
    public var elementType: ElementType
    public var shape: [Int]
    public var bytes: Data

    /// Creates a tensor; `bytes.count` must equal the shape's element count times the element size.
    public init(elementType: ElementType, shape: [Int], bytes: Data) {
        self.elementType = elementType
        self.shape = shape
        self.bytes = bytes
    }

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }

    /// Most dimensions a tensor may have.
    public static let maxRank = 8

    /// The byte count `shape` and `elementType` call for, or nil when the
    /// shape is negative, too deep, or overflows (checked at every step, so
    /// hostile shapes from the wire cannot trap).
    public static func byteCount(shape: [Int64], elementType: ElementType) -> Int? {
        guard shape.count <= maxRank else { return nil }
        var total = Int64(elementType.byteCount)
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= Int64(Int32.max) * 16 else { return nil }
            total = product
        }
        return Int(total)
    }

    /// Whether the byte count matches shape and type.
    public var isConsistent: Bool {
        Self.byteCount(shape: shape.map(Int64.init), elementType: elementType) == bytes.count
    }

    public init(_ values: [Float], shape: [Int]) {
        self.init(elementType: .float32, shape: shape, bytes: values.withUnsafeBytes { Data($0) })
    }

    public init(_ values: [Int32], shape: [Int]) {
        self.init(elementType: .int32, shape: shape, bytes: values.withUnsafeBytes { Data($0) })
    }

    public init(_ values: [UInt8], shape: [Int]) {
        self.init(elementType: .uint8, shape: shape, bytes: Data(values))
    }

    /// The elements as Float (the tensor must be float32).
    public var floats: [Float] { decode(Float.self, .float32) }
    /// The elements as Int32 (the tensor must be int32).
    public var int32s: [Int32] { decode(Int32.self, .int32) }
    /// The elements as UInt8 (the tensor must be uint8).
    public var uint8s: [UInt8] { decode(UInt8.self, .uint8) }

    private func decode<T>(_: T.Type, _ expected: ElementType) -> [T] {
        precondition(elementType == expected, "tensor holds \(elementType), not \(expected)")
        let count = bytes.count / MemoryLayout<T>.stride
        if count == 0 { return [] }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            _ = bytes.withUnsafeBytes { raw in
                memcpy(buffer.baseAddress!, raw.baseAddress!, count * MemoryLayout<T>.stride)
            }
            initialized = count
        }
    }
}
