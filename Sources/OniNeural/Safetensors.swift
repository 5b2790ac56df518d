import Foundation

// Tensors are copied to and from the file as they lie in memory: the format is little-endian.
#if !_endian(little)
#error("Safetensors reads and writes tensors as little-endian memory; this host is big-endian")
#endif

/// The safetensors file format (as written by Hugging Face's `safetensors`):
/// an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw little-endian data. Only float32
/// tensors are written; files load in PyTorch with `safetensors.torch.load_file`.
public enum Safetensors {
    /// One named float32 tensor.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var values: [Float]

        public init(name: String, shape: [Int], values: [Float]) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// Why a file is not a usable safetensors file. Each case says what is wrong.
    public enum FormatError: Error, Equatable, CustomStringConvertible {
        case truncated(expected: Int, found: Int)
        case badHeader(String)
        case unsupportedDType(name: String, dtype: String)
        case badOffsets(name: String)

        public var description: String {
            switch self {
            case let .truncated(expected, found): "truncated: needs \(expected) bytes, has \(found)"
            case let .badHeader(reason): "bad header: \(reason)"
            case let .unsupportedDType(name, dtype): "tensor \(name) has dtype \(dtype); only F32 is read"
            case let .badOffsets(name): "tensor \(name) has data offsets outside the file or not matching its shape"
            }
        }
    }

    /// Encodes tensors (in the given order) and string metadata.
    public static func encode(_ entries: [Entry], metadata: [String: String]) -> Data {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for entry in entries {
            let size = entry.values.count * 4
            header[entry.name] = ["dtype": "F32", "shape": entry.shape, "data_offsets": [offset, offset + size]]
            offset += size
        }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
        // Pad the header with spaces to a multiple of 8 bytes, as the reference writer does.
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data(count: 8 + json.count + offset)
        data.withUnsafeMutableBytes { out in
            out.storeBytes(of: UInt64(json.count).littleEndian, as: UInt64.self)
            json.copyBytes(to: UnsafeMutableRawBufferPointer(rebasing: out[8..<(8 + json.count)]))
            // Each tensor in one copy: the file is little-endian, as is every host we build for.
            var at = 8 + json.count
            for entry in entries {
                entry.values.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + $0.count)]).copyMemory(from: $0) }
                at += entry.values.count * 4
            }
        }
        return data
    }

    /// Decodes a file's tensors (by name) and metadata, checking every offset.
    public static func decode(_ input: Data) throws(FormatError) -> (entries: [String: Entry], metadata: [String: String]) {
        let data = Data(input)  // zero-based indices even for a slice
        guard data.count >= 8 else { throw .truncated(expected: 8, found: data.count) }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8), headerLength < 100 << 20 else {
            throw .truncated(expected: 8 + Int(min(headerLength, UInt64(Int32.max))), found: data.count)
        }
        let headerEnd = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)) as? [String: Any] else {
            throw .badHeader("not a JSON object")
        }
        let payload = data.count - headerEnd
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = value as? [String: String] ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = (info["shape"] as? [NSNumber])?.map(\.intValue),
                  let offsets = (info["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2
            else { throw .badHeader("entry \(name) lacks dtype, shape or data_offsets") }
            guard dtype == "F32" else { throw .unsupportedDType(name: name, dtype: dtype) }
            var count = 1
            for dimension in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard dimension >= 0, !overflow, product <= payload else { throw .badOffsets(name: name) }
                count = product
            }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= payload, offsets[1] - offsets[0] == count * 4
            else { throw .badOffsets(name: name) }
            let start = headerEnd + offsets[0]
            let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                data.withUnsafeBytes { raw in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + 4 * count)]))
                }
                initialized = count
            }
            entries[name] = Entry(name: name, shape: shape, values: values)
        }
        return (entries, metadata)
    }
}
