import Foundation

/// One evaluation of a checkpoint, as stored in the `evaluations` table.
public struct EvaluationRecord: Codable, Sendable, Equatable {
    public var checkpoint: String
    public var policyVersion: Int64
    /// Environment steps the policy had been trained on when the checkpoint was saved.
    public var trainedEnvSteps: UInt64
    public var env: String
    public var episodes: Int
    public var greedy: Bool
    public var seed: UInt64
    public var meanReturn: Double
    public var standardErrorReturn: Double
    public var successRate: Double
    public var meanLength: Double
    /// Mean of each environment statistic (NetHack: score, depth, experience_level, gold).
    public var statistics: [String: Double]
    /// The whole report (per-episode results, messages), as JSON.
    public var report: String

    public init(
        checkpoint: String, policyVersion: Int64, trainedEnvSteps: UInt64, env: String, episodes: Int, greedy: Bool, seed: UInt64,
        meanReturn: Double, standardErrorReturn: Double, successRate: Double, meanLength: Double, statistics: [String: Double], report: String
    ) {
        self.checkpoint = checkpoint
        self.policyVersion = policyVersion
        self.trainedEnvSteps = trainedEnvSteps
        self.env = env
        self.episodes = episodes
        self.greedy = greedy
        self.seed = seed
        self.meanReturn = meanReturn
        self.standardErrorReturn = standardErrorReturn
        self.successRate = successRate
        self.meanLength = meanLength
        self.statistics = statistics
        self.report = report
    }
}

extension RunStore {
    /// v3: evaluations of checkpoints (`oni evaluate`), and the view `evaluation_curve` that
    /// plots them against the environment steps trained.
    static let evaluationsSchema = """
        CREATE TABLE evaluations (
            id INTEGER PRIMARY KEY,
            created_unix_ms INTEGER NOT NULL,
            checkpoint TEXT NOT NULL,
            policy_version INTEGER NOT NULL,
            trained_env_steps INTEGER NOT NULL,
            env TEXT NOT NULL,
            episodes INTEGER NOT NULL,
            greedy INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            mean_return REAL NOT NULL,
            stderr_return REAL NOT NULL,
            success_rate REAL NOT NULL,
            mean_length REAL NOT NULL,
            statistics TEXT NOT NULL,
            report TEXT NOT NULL
        );
        CREATE VIEW evaluation_curve AS
            SELECT trained_env_steps, policy_version, env, greedy, episodes, mean_return, stderr_return, success_rate, mean_length,
                json_extract(statistics, '$.score') AS mean_score, json_extract(statistics, '$.depth') AS mean_depth,
                checkpoint, created_unix_ms
            FROM evaluations ORDER BY trained_env_steps, id;
        PRAGMA user_version = 3;
        """

    /// Stores one evaluation; returns its id.
    @discardableResult
    public func insertEvaluation(_ record: EvaluationRecord) throws(StorageError) -> Int64 {
        let statistics = (try? JSONSerialization.data(withJSONObject: record.statistics, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let statement = try database.prepare(
            """
            INSERT INTO evaluations (created_unix_ms, checkpoint, policy_version, trained_env_steps, env, episodes, greedy, seed,
                mean_return, stderr_return, success_rate, mean_length, statistics, report)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try statement.bind(values: [
            .int(Int64(Date().timeIntervalSince1970 * 1000)), .text(record.checkpoint), .int(record.policyVersion),
            .int(Int64(clamping: record.trainedEnvSteps)), .text(record.env), .int(Int64(record.episodes)), .int(record.greedy ? 1 : 0),
            .int(Int64(bitPattern: record.seed)), .double(record.meanReturn), .double(record.standardErrorReturn),
            .double(record.successRate), .double(record.meanLength), .text(statistics), .text(record.report),
        ]).run()
        return try database.scalarInt("SELECT last_insert_rowid()") ?? 0
    }

    /// Every stored evaluation, oldest first.
    public func evaluations() throws(StorageError) -> [EvaluationRecord] {
        let rows = try database.prepare(
            """
            SELECT checkpoint, policy_version, trained_env_steps, env, episodes, greedy, seed, mean_return, stderr_return,
                success_rate, mean_length, statistics, report FROM evaluations ORDER BY id
            """)
        var records: [EvaluationRecord] = []
        while try rows.step() {
            let statistics = (try? JSONSerialization.jsonObject(with: Data(rows.text(11).utf8))) as? [String: Double] ?? [:]
            records.append(
                EvaluationRecord(
                    checkpoint: rows.text(0), policyVersion: rows.int(1), trainedEnvSteps: UInt64(clamping: rows.int(2)), env: rows.text(3),
                    episodes: Int(rows.int(4)), greedy: rows.int(5) != 0, seed: UInt64(bitPattern: rows.int(6)), meanReturn: rows.double(7),
                    standardErrorReturn: rows.double(8), successRate: rows.double(9), meanLength: rows.double(10), statistics: statistics,
                    report: rows.text(12)))
        }
        return records
    }
}
