import CZstd
import Foundation

/// How a rollout's protobuf is kept in the store's `rollouts.protobuf` column (`rollouts.codec`):
/// raw (stores before schema 5), zstd-compressed (what Oni writes: NetHack's screens are mostly
/// blanks), or thinned (the blob was dropped to keep the store under its size cap; the row, its
/// episodes and everything else stay).
public enum RolloutBlob {
    public enum Codec: Int64, Sendable {
        case raw = 0
        case zstd = 1
        case thinned = 2
    }

    /// zstd's level 3: its default, fast enough for the store's writer thread.
    static let level: Int32 = 3

    /// `protobuf`, compressed.
    public static func compress(_ protobuf: Data) -> Data {
        let bound = ZSTD_compressBound(protobuf.count)
        var out = Data(count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            protobuf.withUnsafeBytes { src in ZSTD_compress(dst.baseAddress, bound, src.baseAddress, src.count, level) }
        }
        // Compressing into a buffer of the bound cannot fail.
        precondition(ZSTD_isError(written) == 0, "zstd: \(String(cString: ZSTD_getErrorName(written)))")
        out.count = written
        return out
    }

    /// The protobuf a stored blob holds; nil when it was thinned.
    public static func protobuf(_ blob: Data, codec: Int64) throws(StorageError) -> Data? {
        switch Codec(rawValue: codec) {
        case .raw: return blob
        case .thinned: return nil
        case .zstd:
            let size = blob.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
            // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two largest values; Oni writes the size.
            guard size < UInt64.max - 1, size <= 1 << 31 else { throw .corruptBlob("zstd frame without a plausible content size") }
            var out = Data(count: Int(size))
            let read = out.withUnsafeMutableBytes { dst in
                blob.withUnsafeBytes { src in ZSTD_decompress(dst.baseAddress, dst.count, src.baseAddress, src.count) }
            }
            guard ZSTD_isError(read) == 0, read == Int(size) else {
                throw .corruptBlob("zstd: \(ZSTD_isError(read) != 0 ? String(cString: ZSTD_getErrorName(read)) : "\(read) of \(size) bytes")")
            }
            return out
        case nil: throw .corruptBlob("unknown blob codec \(codec)")
        }
    }
}
