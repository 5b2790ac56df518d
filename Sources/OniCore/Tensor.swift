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

    /// Whether the byte count matches shape and type.
    public var isConsistent: Bool {
        shape.allSatisfy { $0 >= 0 } && bytes.count == elementCount * elementType.byteCount
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
