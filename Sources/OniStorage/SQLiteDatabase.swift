import CSQLite
import Foundation

private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A thin, typed wrapper over one sqlite3 connection. Not thread-safe: use a
/// connection from one thread at a time.
public final class SQLiteDatabase {
    private var handle: OpaquePointer?
    public let path: String

    /// Opens (or, unless `readOnly`, creates) the database at `path`.
    public init(path: String, readOnly: Bool = false) throws(StorageError) {
        self.path = path
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw .open(path: path, message: message)
        }
        handle = db
        sqlite3_busy_timeout(db, 5000)
    }

    deinit { close() }

    public func close() {
        if let handle {
            sqlite3_close_v2(handle)
            self.handle = nil
        }
    }

    var db: OpaquePointer { handle! }

    /// The rowid of the last row inserted on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(db) }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(StorageError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &error)
        guard rc == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(db))
            sqlite3_free(error)
            throw .statement(sql: Self.firstLine(sql), code: rc, message: message)
        }
    }

    /// Compiles a statement for repeated use.
    public func prepare(_ sql: String) throws(StorageError) -> Statement {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            throw .statement(sql: Self.firstLine(sql), code: rc, message: String(cString: sqlite3_errmsg(db)))
        }
        return Statement(statement, database: self, sql: sql)
    }

    /// Runs `body` in one transaction, rolled back if it throws.
    public func transaction<T>(_ body: () throws(StorageError) -> T) throws(StorageError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The single value of a one-row, one-column query (nil if no row).
    public func scalarInt(_ sql: String) throws(StorageError) -> Int64? {
        let s = try prepare(sql)
        return try s.step() ? s.int(0) : nil
    }

    func error(_ sql: String, _ rc: Int32) -> StorageError {
        .statement(sql: Self.firstLine(sql), code: rc, message: String(cString: sqlite3_errmsg(db)))
    }

    static func firstLine(_ sql: String) -> String {
        String(sql.split(separator: "\n").first ?? "").trimmingCharacters(in: .whitespaces)
    }
}

/// A prepared statement: bind by 1-based index, step, read columns by 0-based index.
public final class Statement {
    private let statement: OpaquePointer
    private let database: SQLiteDatabase
    private let sql: String

    init(_ statement: OpaquePointer, database: SQLiteDatabase, sql: String) {
        self.statement = statement
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(statement) }

    /// Binds values to parameters 1, 2, … (clearing earlier bindings).
    @discardableResult
    public func bind(_ values: SQLiteValue...) throws(StorageError) -> Statement {
        try bind(values: values)
    }

    /// Binds an array of values to parameters 1, 2, ….
    @discardableResult
    public func bind(values: [SQLiteValue]) throws(StorageError) -> Statement {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        for (offset, value) in values.enumerated() {
            let i = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, i)
            case let .int(v): rc = sqlite3_bind_int64(statement, i, v)
            case let .double(v): rc = sqlite3_bind_double(statement, i, v)
            case let .text(v): rc = sqlite3_bind_text(statement, i, v, -1, transient)
            case let .blob(v):
                rc = v.withUnsafeBytes { raw in
                    sqlite3_bind_blob64(statement, i, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), sqlite3_uint64(raw.count), transient)
                }
            }
            guard rc == SQLITE_OK else { throw database.error(sql, rc) }
        }
        return self
    }

    /// Advances; true if a row is ready to read, false when done.
    public func step() throws(StorageError) -> Bool {
        let rc = sqlite3_step(statement)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            if rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB {
                throw .corrupt(path: database.path, message: String(cString: sqlite3_errmsg(database.db)))
            }
            throw database.error(sql, rc)
        }
    }

    /// Steps a statement that returns no rows.
    public func run() throws(StorageError) {
        _ = try step()
        sqlite3_reset(statement)
    }

    public func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    public func double(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    public func text(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(statement, column) else { return "" }
        return String(cString: p)
    }
    public func blob(_ column: Int32) -> Data {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let p = sqlite3_column_blob(statement, column) else { return Data() }
        return Data(bytes: p, count: count)
    }
}

/// A value to bind to a statement parameter.
public enum SQLiteValue: Sendable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob(Data)
}
