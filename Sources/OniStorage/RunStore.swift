import Foundation
import OniCore

/// The run's SQLite store (`RUN_DIR/oni.sqlite`, WAL mode): rollouts as
/// replayable protobuf blobs, episodes, interned messages with counts,
/// labels and metrics. Open one `RunStore` per thread.
public final class RunStore {
    /// The schema version this build writes.
    public static let schemaVersion = 5
    /// File name inside a run directory.
    public static let fileName = "oni.sqlite"

    public let database: SQLiteDatabase
    private var insertRollout: Statement?
    private var insertEpisode: Statement?
    private var upsertMessage: Statement?
    private var insertLabel: Statement?
    private var insertMetric: Statement?
    private var insertPair: Statement?
    private var insertPairLabel: Statement?
    /// Bytes of rollout blobs this connection has written (compressed), for the store's size cap.
    public private(set) var blobBytesWritten: Int64 = 0
    /// The schema version once opened (and migrated, unless read-only).
    public private(set) var openedSchemaVersion: Int64 = 0

    /// Opens or creates the store at `path`, creating or migrating the schema
    /// unless `readOnly`.
    public init(path: String, readOnly: Bool = false) throws(StorageError) {
        database = try SQLiteDatabase(path: path, readOnly: readOnly)
        do {
            if readOnly {
                try checkSchema()
            } else {
                try database.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
                try migrate()
            }
            openedSchemaVersion = try database.scalarInt("PRAGMA user_version") ?? 0
        } catch let error {
            if case let .statement(_, code, message) = error, code == 26 || code == 11 {  // SQLITE_NOTADB, SQLITE_CORRUPT
                throw .corrupt(path: path, message: message)
            }
            throw error
        }
    }

    /// Opens the store of a run directory.
    public convenience init(runDirectory: URL, readOnly: Bool = false) throws(StorageError) {
        try self.init(path: runDirectory.appendingPathComponent(Self.fileName).path, readOnly: readOnly)
    }

    private func checkSchema() throws(StorageError) {
        let version = try database.scalarInt("PRAGMA user_version") ?? 0
        if version > Self.schemaVersion { throw .schemaTooNew(found: Int(version), supported: Self.schemaVersion) }
    }

    private func migrate() throws(StorageError) {
        try checkSchema()
        let version = try database.scalarInt("PRAGMA user_version") ?? 0
        if version < 1 {
            try database.transaction { () throws(StorageError) in
                try database.execute(
                    """
                    CREATE TABLE rollouts (
                        id INTEGER PRIMARY KEY,
                        worker_id TEXT NOT NULL,
                        sequence INTEGER NOT NULL,
                        policy_version INTEGER NOT NULL,
                        steps INTEGER NOT NULL,
                        learner_env_steps INTEGER NOT NULL,
                        replay INTEGER NOT NULL,
                        received_unix_ms INTEGER NOT NULL,
                        protobuf BLOB NOT NULL
                    );
                    CREATE TABLE episodes (
                        id INTEGER PRIMARY KEY,
                        rollout_id INTEGER REFERENCES rollouts(id),  -- NULL when rollouts are not retained
                        worker_id TEXT NOT NULL,
                        env_index INTEGER NOT NULL,
                        worker_episode INTEGER NOT NULL,
                        seed INTEGER NOT NULL,
                        episode_return REAL NOT NULL,
                        length INTEGER NOT NULL,
                        success INTEGER NOT NULL,
                        end_step INTEGER NOT NULL,
                        learner_env_steps INTEGER NOT NULL
                    );
                    CREATE TABLE messages (
                        id INTEGER PRIMARY KEY,
                        text TEXT NOT NULL UNIQUE,
                        count INTEGER NOT NULL,
                        first_seen_env_steps INTEGER NOT NULL
                    );
                    CREATE TABLE labels (
                        id INTEGER PRIMARY KEY,
                        message_id INTEGER NOT NULL REFERENCES messages(id),
                        status TEXT NOT NULL,
                        label REAL,
                        confidence REAL,
                        model TEXT NOT NULL,
                        prompt_hash TEXT NOT NULL,
                        reply TEXT NOT NULL,
                        error TEXT,
                        created_unix_ms INTEGER NOT NULL
                    );
                    CREATE INDEX labels_by_message ON labels(message_id);
                    CREATE TABLE metrics (
                        unix_ms INTEGER NOT NULL,
                        env_steps INTEGER NOT NULL,
                        name TEXT NOT NULL,
                        value REAL NOT NULL
                    );
                    CREATE INDEX metrics_by_name ON metrics(name, env_steps);
                    CREATE VIEW message_labels AS
                        SELECT m.id, m.text, m.count, l.label, l.confidence, l.model, l.prompt_hash
                        FROM messages m LEFT JOIN labels l ON l.id = (
                            SELECT id FROM labels WHERE message_id = m.id AND status = 'labelled' ORDER BY id DESC LIMIT 1);
                    PRAGMA user_version = 1;
                    """)
            }
        }
        if version < 2 {
            // v2: the ranking reward's pairs and the LLM's judgements of them.
            try database.transaction { () throws(StorageError) in
                try database.execute(
                    """
                    CREATE TABLE pairs (
                        id INTEGER PRIMARY KEY,
                        first_id INTEGER NOT NULL REFERENCES messages(id),
                        second_id INTEGER NOT NULL REFERENCES messages(id),
                        created_env_steps INTEGER NOT NULL
                    );
                    CREATE TABLE pair_labels (
                        id INTEGER PRIMARY KEY,
                        pair_id INTEGER NOT NULL REFERENCES pairs(id),
                        status TEXT NOT NULL,
                        preference REAL,
                        model TEXT NOT NULL,
                        prompt_hash TEXT NOT NULL,
                        reply TEXT NOT NULL,
                        error TEXT,
                        created_unix_ms INTEGER NOT NULL
                    );
                    CREATE INDEX pair_labels_by_pair ON pair_labels(pair_id);
                    CREATE VIEW pair_preferences AS
                        SELECT p.id, f.text AS first, s.text AS second, l.preference, l.model, l.prompt_hash
                        FROM pairs p JOIN messages f ON f.id = p.first_id JOIN messages s ON s.id = p.second_id
                        LEFT JOIN pair_labels l ON l.id = (
                            SELECT id FROM pair_labels WHERE pair_id = p.id AND status = 'labelled' ORDER BY id DESC LIMIT 1);
                    PRAGMA user_version = 2;
                    """)
            }
        }
        if version < 3 {
            try database.transaction { () throws(StorageError) in try database.execute(Self.evaluationsSchema) }
        }
        if version < 4 {
            // v4: the intrinsic reward paid for each step, stored with the rollout.
            try database.transaction { () throws(StorageError) in
                try database.execute(
                    """
                    ALTER TABLE rollouts ADD COLUMN intrinsic BLOB;
                    ALTER TABLE rollouts ADD COLUMN reward_type TEXT;
                    ALTER TABLE rollouts ADD COLUMN reward_model_version INTEGER;
                    PRAGMA user_version = 4;
                    """)
            }
        }
        if version < 5 {
            // v5: how each blob is kept (RolloutBlob.Codec): older blobs are raw protobuf.
            try database.transaction { () throws(StorageError) in
                try database.execute(
                    """
                    ALTER TABLE rollouts ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
                    PRAGMA user_version = 5;
                    """)
            }
        }
    }

    /// Finalizes cached statements and closes the connection, so the last
    /// close checkpoints the WAL into the main file.
    public func close() {
        insertRollout = nil
        insertEpisode = nil
        upsertMessage = nil
        insertLabel = nil
        insertMetric = nil
        insertPair = nil
        insertPairLabel = nil
        database.close()
    }

    // MARK: Writing

    /// Writes `records` in one transaction.
    public func write(_ records: [StoreRecord]) throws(StorageError) {
        guard !records.isEmpty else { return }
        try database.transaction { () throws(StorageError) in
            for record in records { try write(record) }
        }
    }

    private func write(_ record: StoreRecord) throws(StorageError) {
        switch record {
        case let .rollout(r):
            var rolloutID: SQLiteValue = .null
            if let protobuf = r.protobuf {
                let insertRolloutStatement = try cached(&insertRollout,
                    """
                    INSERT INTO rollouts (worker_id, sequence, policy_version, steps, learner_env_steps, replay, received_unix_ms, protobuf,
                        intrinsic, reward_type, reward_model_version, codec) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
                    """)
                let blob = RolloutBlob.compress(protobuf)
                blobBytesWritten += Int64(blob.count)
                try insertRolloutStatement.bind(
                    .text(r.workerID), .int(Int64(bitPattern: r.sequence)), .int(r.policyVersion), .int(Int64(r.steps)),
                    .int(Int64(r.learnerEnvSteps)), .int(r.replay ? 1 : 0), .int(r.receivedUnixMilliseconds), .blob(blob),
                    r.intrinsic.map { .blob($0.blob) } ?? .null, r.intrinsic.map { .text($0.rewardType) } ?? .null,
                    r.intrinsic.map { .int(Int64($0.modelVersion)) } ?? .null, .int(RolloutBlob.Codec.zstd.rawValue)
                ).run()
                rolloutID = .int(database.lastInsertRowID)
            }
            let insertEpisodeStatement = try cached(&insertEpisode,
                "INSERT INTO episodes (rollout_id, worker_id, env_index, worker_episode, seed, episode_return, length, success, end_step, learner_env_steps) VALUES (?,?,?,?,?,?,?,?,?,?)")
            for e in r.episodes {
                try insertEpisodeStatement.bind(
                    rolloutID, .text(r.workerID), .int(Int64(e.envIndex)), .int(Int64(bitPattern: e.episodeID)),
                    .int(Int64(bitPattern: e.seed)), .double(e.episodeReturn), .int(Int64(e.length)), .int(e.success ? 1 : 0),
                    .int(Int64(e.endStep)), .int(Int64(r.learnerEnvSteps))
                ).run()
            }
        case let .message(id, text, count, firstSeen):
            let upsertMessageStatement = try cached(&upsertMessage, 
                "INSERT INTO messages (id, text, count, first_seen_env_steps) VALUES (?,?,?,?) ON CONFLICT(id) DO UPDATE SET count = excluded.count")
            try upsertMessageStatement.bind(.int(Int64(id)), .text(text), .int(count), .int(Int64(firstSeen))).run()
        case let .label(result, unixMilliseconds):
            let insertLabelStatement = try cached(&insertLabel, 
                "INSERT INTO labels (message_id, status, label, confidence, model, prompt_hash, reply, error, created_unix_ms) VALUES (?,?,?,?,?,?,?,?,?)")
            let stored = StoredOutcome(result.outcome)
            try insertLabelStatement.bind(
                .int(Int64(result.messageID)), .text(stored.status), stored.value, stored.confidence, .text(result.model),
                .text(result.promptHash), .text(result.reply), stored.error, .int(unixMilliseconds)
            ).run()
        case let .pair(id, firstID, secondID, createdEnvSteps):
            let statement = try cached(&insertPair, "INSERT OR IGNORE INTO pairs (id, first_id, second_id, created_env_steps) VALUES (?,?,?,?)")
            try statement.bind(.int(Int64(id)), .int(Int64(firstID)), .int(Int64(secondID)), .int(Int64(createdEnvSteps))).run()
        case let .pairLabel(result, unixMilliseconds):
            let statement = try cached(&insertPairLabel,
                "INSERT INTO pair_labels (pair_id, status, preference, model, prompt_hash, reply, error, created_unix_ms) VALUES (?,?,?,?,?,?,?,?)")
            let stored = StoredOutcome(result.outcome)
            try statement.bind(
                .int(Int64(result.messageID)), .text(stored.status), stored.value, .text(result.model), .text(result.promptHash),
                .text(result.reply), stored.error, .int(unixMilliseconds)
            ).run()
        case let .metrics(unixMilliseconds, envSteps, values):
            let insertMetricStatement = try cached(&insertMetric, "INSERT INTO metrics (unix_ms, env_steps, name, value) VALUES (?,?,?,?)")
            for (name, value) in values.sorted(by: { $0.key < $1.key }) where value.isFinite {
                try insertMetricStatement.bind(.int(unixMilliseconds), .int(Int64(envSteps)), .text(name), .double(value)).run()
            }
        }
    }

    private func cached(_ slot: inout Statement?, _ sql: String) throws(StorageError) -> Statement {
        if let statement = slot { return statement }
        let statement = try database.prepare(sql)
        slot = statement
        return statement
    }

    // MARK: Reading

    /// Number of rows in `table` (one of the store's tables).
    public func count(_ table: Table) throws(StorageError) -> Int {
        Int(try database.scalarInt("SELECT count(*) FROM \(table.rawValue)") ?? 0)
    }

    /// The store's tables.
    public enum Table: String, Sendable, CaseIterable {
        case rollouts, episodes, messages, labels, metrics, pairs
        case pairLabels = "pair_labels"
    }

    /// Stored rollouts with id greater than `afterID`, oldest first, at most `limit`: (id, protobuf bytes).
    /// Stored rollouts after `afterID`, their protobuf decompressed (thinned ones left out).
    public func rollouts(afterID: Int64, limit: Int) throws(StorageError) -> [(id: Int64, protobuf: Data)] {
        let s = try database.prepare("SELECT id, protobuf, \(blobCodecColumn) FROM rollouts WHERE id > ? ORDER BY id LIMIT ?")
        try s.bind(.int(afterID), .int(Int64(limit)))
        var rows: [(Int64, Data)] = []
        while try s.step() {
            if let protobuf = try RolloutBlob.protobuf(s.blob(1), codec: s.int(2)) { rows.append((s.int(0), protobuf)) }
        }
        return rows
    }

    /// The intrinsic reward paid for rollout `id`'s steps, if the learner recorded it.
    public func paidIntrinsicReward(rolloutID id: Int64) throws(StorageError) -> PaidIntrinsicReward? {
        let s = try database.prepare("SELECT intrinsic, reward_type, reward_model_version FROM rollouts WHERE id = ? AND intrinsic IS NOT NULL")
        try s.bind(.int(id))
        guard try s.step() else { return nil }
        return PaidIntrinsicReward(rewardType: s.text(1), modelVersion: Int(s.int(2)), rewards: PaidIntrinsicReward.floats(s.blob(0)))
    }

    /// The learner's environment-step counter as last recorded (by a rollout, an episode or a metrics snapshot; 0 if none).
    public func lastLearnerEnvSteps() throws(StorageError) -> UInt64 {
        UInt64(
            try database.scalarInt(
                """
                SELECT max(coalesce((SELECT max(learner_env_steps) FROM rollouts), 0),
                           coalesce((SELECT max(learner_env_steps) FROM episodes), 0),
                           coalesce((SELECT max(env_steps) FROM metrics), 0))
                """) ?? 0)
    }

    /// A stored metric value.
    public struct MetricPoint: Sendable, Hashable {
        public var unixMilliseconds: Int64
        public var envSteps: UInt64
        public var name: String
        public var value: Double
    }

    /// Metric points, oldest first; only `names` if given.
    public func metrics(names: [String] = [], limit: Int = 100_000) throws(StorageError) -> [MetricPoint] {
        let filter = names.isEmpty ? "" : "WHERE name IN (\(names.map { _ in "?" }.joined(separator: ",")))"
        let s = try database.prepare("SELECT unix_ms, env_steps, name, value FROM metrics \(filter) ORDER BY rowid LIMIT \(limit)")
        if !names.isEmpty { try s.bind(values: names.map { .text($0) }) }
        var rows: [MetricPoint] = []
        while try s.step() {
            rows.append(MetricPoint(unixMilliseconds: s.int(0), envSteps: UInt64(s.int(1)), name: s.text(2), value: s.double(3)))
        }
        return rows
    }

    /// The newest stored value of each of `names` that has one (what a resumed learner's counters start from).
    public func latestMetrics(_ names: [String]) throws(StorageError) -> [String: Double] {
        guard !names.isEmpty else { return [:] }
        let placeholders = names.map { _ in "?" }.joined(separator: ",")
        let s = try database.prepare(
            "SELECT name, value FROM metrics WHERE rowid IN (SELECT max(rowid) FROM metrics WHERE name IN (\(placeholders)) GROUP BY name)")
        try s.bind(values: names.map { .text($0) })
        var values: [String: Double] = [:]
        while try s.step() { values[s.text(0)] = s.double(1) }
        return values
    }

    /// One stored metrics snapshot.
    public struct MetricSnapshot: Sendable, Hashable {
        public var unixMilliseconds: Int64
        public var envSteps: UInt64
        public var values: [String: Double]
    }

    /// The newest `last` snapshots, oldest first.
    public func metricSnapshots(last: Int) throws(StorageError) -> [MetricSnapshot] {
        let s = try database.prepare(
            """
            SELECT unix_ms, env_steps, name, value FROM metrics
            WHERE unix_ms >= coalesce((SELECT min(unix_ms) FROM (SELECT DISTINCT unix_ms FROM metrics ORDER BY unix_ms DESC LIMIT ?)), 0)
            ORDER BY unix_ms, name
            """)
        try s.bind(.int(Int64(last)))
        var snapshots: [MetricSnapshot] = []
        while try s.step() {
            let stamp = s.int(0)
            if snapshots.last?.unixMilliseconds != stamp {
                snapshots.append(MetricSnapshot(unixMilliseconds: stamp, envSteps: UInt64(s.int(1)), values: [:]))
            }
            snapshots[snapshots.count - 1].values[s.text(2)] = s.double(3)
        }
        return snapshots
    }

    /// Runs SQLite's integrity check; returns its findings (["ok"] when sound).
    public func integrityCheck() throws(StorageError) -> [String] {
        let s = try database.prepare("PRAGMA integrity_check")
        var rows: [String] = []
        while try s.step() { rows.append(s.text(0)) }
        return rows
    }
}
