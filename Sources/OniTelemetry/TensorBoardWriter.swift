import Foundation

/// Writes scalars as TensorBoard event files (`RUN_DIR/tb/events.out.tfevents.<time>.<host>`):
/// TFRecord framing (length, masked CRC-32C of the length, the record, masked CRC-32C of the
/// record) around `Event` protocol buffers — the first carrying the file version, the rest a
/// `Summary` of simple values. The few protobuf fields are encoded here directly.
public final class TensorBoardWriter {
    public let path: String
    private let handle: FileHandle

    /// Creates a new event file in `directory`.
    public init(directory: String, now: Date = Date()) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let seconds = Int(now.timeIntervalSince1970)
        var name = "events.out.tfevents.\(seconds).\(ProcessInfo.processInfo.hostName)"
        // Two writers in one second (a quick restart) must not share a file.
        var suffix = 1
        while FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(name)) {
            name = "events.out.tfevents.\(seconds).\(ProcessInfo.processInfo.hostName).\(suffix)"
            suffix += 1
        }
        path = (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        var event = Protobuf()
        event.double(1, now.timeIntervalSince1970)
        event.bytes(3, Array("brain.Event:2".utf8))
        try handle.write(contentsOf: Self.record(event.bytes))
    }

    deinit { try? handle.close() }

    /// Writes one event holding every scalar of `values` at `step`.
    public func write(step: Int64, values: [String: Double], wallTime: Date = Date()) throws {
        var summary = Protobuf()
        for tag in values.keys.sorted() {
            guard let value = values[tag], value.isFinite else { continue }
            var entry = Protobuf()
            entry.bytes(1, Array(tag.utf8))
            entry.float(2, Float(value))
            summary.bytes(1, entry.bytes)
        }
        var event = Protobuf()
        event.double(1, wallTime.timeIntervalSince1970)
        event.varint(2, UInt64(bitPattern: step))
        event.bytes(5, summary.bytes)
        try handle.write(contentsOf: Self.record(event.bytes))
    }

    /// One TFRecord: uint64 length, masked CRC of it, the data, masked CRC of the data (little-endian).
    static func record(_ data: [UInt8]) -> Data {
        var length = withUnsafeBytes(of: UInt64(data.count).littleEndian, Array.init)
        length += withUnsafeBytes(of: CRC32C.masked(length).littleEndian, Array.init)
        return Data(length + data + withUnsafeBytes(of: CRC32C.masked(data).littleEndian, Array.init))
    }

    /// The protobuf wire encoding of the few field kinds an Event needs.
    struct Protobuf {
        var bytes: [UInt8] = []

        mutating func key(_ field: UInt64, _ wireType: UInt64) { varintRaw(field << 3 | wireType) }
        mutating func varintRaw(_ value: UInt64) {
            var v = value
            while v >= 0x80 {
                bytes.append(UInt8(v & 0x7F) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }
        mutating func varint(_ field: UInt64, _ value: UInt64) {
            key(field, 0)
            varintRaw(value)
        }
        mutating func double(_ field: UInt64, _ value: Double) {
            key(field, 1)
            bytes += withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init)
        }
        mutating func float(_ field: UInt64, _ value: Float) {
            key(field, 5)
            bytes += withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init)
        }
        mutating func bytes(_ field: UInt64, _ value: [UInt8]) {
            key(field, 2)
            varintRaw(UInt64(value.count))
            bytes += value
        }
    }
}
