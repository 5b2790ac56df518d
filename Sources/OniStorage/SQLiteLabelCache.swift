import Foundation
import OniCore
import Synchronization

/// The annotation cache on disk: one SQLite file (WAL) of labels keyed by
/// model, prompt-template hash, goal and message, shared by every run and
/// annotator on the machine (default `~/.cache/oni/annotations.sqlite`), so
/// no message is sent to the same model with the same prompt twice. The
/// `prompts` table keeps the template behind every prompt hash.
public final class SQLiteLabelCache: LabelCache {
    public let path: String
    private let state: Mutex<State>

    private struct State {
        var database: SQLiteDatabase
        var hits = 0, misses = 0, writeFailures = 0
    }

    /// `~/.cache/oni/annotations.sqlite`.
    public static var defaultPath: String {
        FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/oni/annotations.sqlite").path
    }

    /// Opens or creates the cache; a file that is not one is a `.corrupt` error.
    public init(path: String) throws(StorageError) {
        self.path = path
        try? FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        let database = try SQLiteDatabase(path: path)
        do {
            try database.execute("PRAGMA journal_mode=WAL")
            try database.execute(
                """
                CREATE TABLE IF NOT EXISTS labels (
                    model TEXT NOT NULL, prompt_hash TEXT NOT NULL, goal TEXT NOT NULL, message TEXT NOT NULL,
                    label REAL NOT NULL, confidence REAL NOT NULL, reply TEXT NOT NULL, created_unix_ms INTEGER NOT NULL,
                    PRIMARY KEY (model, prompt_hash, goal, message)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS prompts (
                    hash TEXT PRIMARY KEY, template TEXT NOT NULL, created_unix_ms INTEGER NOT NULL) WITHOUT ROWID
                """)
        } catch let .statement(_, code, message) where code == 26 /* SQLITE_NOTADB */ {
            throw .corrupt(path: path, message: message)
        }
        state = Mutex(State(database: database))
    }

    public func label(for key: LabelCacheKey) -> CachedLabel? {
        state.withLock { s in
            let found = try? Self.find(key, in: s.database)
            if case let found?? = found {
                s.hits += 1
                return found
            }
            s.misses += 1
            return nil
        }
    }

    public func store(_ label: CachedLabel, for key: LabelCacheKey) {
        state.withLock { s in
            do {
                try s.database.prepare(
                    "INSERT OR REPLACE INTO labels (model, prompt_hash, goal, message, label, confidence, reply, created_unix_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ).bind(
                    .text(key.model), .text(key.promptHash), .text(key.goal), .text(key.message), .double(Double(label.value)),
                    .double(Double(label.confidence)), .text(label.reply), .int(Int64(Date().timeIntervalSince1970 * 1000))
                ).run()
            } catch {
                s.writeFailures += 1  // the label still reaches the learner; only the cache misses it
            }
        }
    }

    public var lookups: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }

    /// Keeps the template a label's `prompt_hash` stands for (`SELECT template FROM prompts WHERE hash = …`).
    public func recordPrompt(hash: String, template: String) {
        state.withLock { s in
            do {
                try s.database.prepare("INSERT OR IGNORE INTO prompts (hash, template, created_unix_ms) VALUES (?, ?, ?)")
                    .bind(.text(hash), .text(template), .int(Int64(Date().timeIntervalSince1970 * 1000))).run()
            } catch {
                s.writeFailures += 1
            }
        }
    }

    /// The template recorded for `hash`.
    public func prompt(hash: String) -> String? {
        state.withLock { s in
            guard let statement = try? s.database.prepare("SELECT template FROM prompts WHERE hash = ?").bind(.text(hash)),
                  (try? statement.step()) == true
            else { return nil }
            return statement.text(0)
        }
    }

    /// Labels that could not be written (disk full, read-only file, …).
    public var writeFailures: Int { state.withLock { $0.writeFailures } }
    /// Labels in the cache.
    public var count: Int { state.withLock { Int((try? $0.database.scalarInt("SELECT count(*) FROM labels")) ?? 0) } }

    private static func find(_ key: LabelCacheKey, in database: SQLiteDatabase) throws(StorageError) -> CachedLabel? {
        let statement = try database.prepare(
            "SELECT label, confidence, reply FROM labels WHERE model = ? AND prompt_hash = ? AND goal = ? AND message = ?"
        ).bind(.text(key.model), .text(key.promptHash), .text(key.goal), .text(key.message))
        guard try statement.step() else { return nil }
        return CachedLabel(value: Float(statement.double(0)), confidence: Float(statement.double(1)), reply: statement.text(2))
    }
}
