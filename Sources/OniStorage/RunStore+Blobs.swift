import Foundation

/// The rollout blobs' share of the store, and keeping it under a cap.
extension RunStore {
    /// What to select for a rollout's `RolloutBlob.Codec`: the column, or raw for a store older
    /// than schema 5 opened read-only (not migrated).
    public var blobCodecColumn: String { openedSchemaVersion >= 5 ? "codec" : "0" }

    /// Bytes the rollout blobs take now.
    public func blobBytes() throws(StorageError) -> Int64 {
        try database.scalarInt("SELECT coalesce(sum(length(protobuf)), 0) FROM rollouts") ?? 0
    }

    /// Drops the blobs of the oldest rollouts still holding one until at least `bytes` are freed:
    /// their rows, episodes, messages, labels and metrics stay (codec `thinned`). Returns how
    /// many blobs and bytes went.
    @discardableResult
    public func thinOldest(freeing bytes: Int64) throws(StorageError) -> (rollouts: Int, bytes: Int64) {
        guard bytes > 0 else { return (0, 0) }
        let oldest = try database.prepare(
            "SELECT id, length(protobuf) FROM rollouts WHERE codec != \(RolloutBlob.Codec.thinned.rawValue) ORDER BY id LIMIT 4096")
        var last: Int64 = -1, freed: Int64 = 0, count = 0
        while freed < bytes, try oldest.step() {
            last = oldest.int(0)
            freed += oldest.int(1)
            count += 1
        }
        guard last >= 0 else { return (0, 0) }
        try database.transaction { () throws(StorageError) in
            try database.execute(
                "UPDATE rollouts SET protobuf = X'', codec = \(RolloutBlob.Codec.thinned.rawValue) WHERE id <= \(last) AND codec != \(RolloutBlob.Codec.thinned.rawValue)")
        }
        return (count, freed)
    }
}

/// How large a run's stored rollouts may grow (`--store-max-mb`).
public enum StoreCap {
    /// The automatic cap: the smaller of 20 GiB and half the space free on the run directory's
    /// file system when the run starts.
    public static func automatic(runDirectory: URL) -> Int64 {
        let ceiling: Int64 = 20 << 30
        var directory = runDirectory
        while !FileManager.default.fileExists(atPath: directory.path), directory.path != "/" { directory.deleteLastPathComponent() }
        guard let free = (try? FileManager.default.attributesOfFileSystem(forPath: directory.path))?[.systemFreeSize] as? NSNumber else {
            return ceiling
        }
        return min(ceiling, free.int64Value / 2)
    }

    /// `megabytes` as a cap: -1 = automatic, 0 = none.
    public static func resolve(megabytes: Int, runDirectory: URL) -> Int64? {
        megabytes < 0 ? automatic(runDirectory: runDirectory) : megabytes == 0 ? nil : Int64(megabytes) << 20
    }

    public static func describe(_ cap: Int64?) -> String {
        guard let cap else { return "every rollout kept (no cap)" }
        return String(format: "rollouts kept up to %.1f GiB, oldest thinned first", Double(cap) / Double(1 << 30))
    }
}
