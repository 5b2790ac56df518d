/// Errors from the run store. Each case names the file or statement at fault.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The database file could not be opened or created.
    case open(path: String, message: String)
    /// A statement failed; `sql` is its first line.
    case statement(sql: String, code: Int32, message: String)
    /// The file is not a usable Oni store (corrupt, or not SQLite at all).
    case corrupt(path: String, message: String)
    /// The store was written by a newer Oni with a schema this build does not know.
    case schemaTooNew(found: Int, supported: Int)
    /// A stored rollout blob does not decompress.
    case corruptBlob(String)

    public var description: String {
        switch self {
        case let .open(path, message): "cannot open store \(path): \(message)"
        case let .statement(sql, code, message): "SQL failed (\(code)): \(message) in: \(sql)"
        case let .corrupt(path, message): "store \(path) is corrupt or not an Oni store: \(message)"
        case let .schemaTooNew(found, supported):
            "store schema version \(found) is newer than this build supports (\(supported)); upgrade Oni"
        case let .corruptBlob(reason): "stored rollout blob is corrupt: \(reason)"
        }
    }
}
