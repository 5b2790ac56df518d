import Foundation
import OniCore
import OniWire
import SwiftProtobuf

/// `oni store check`: SQLite's own integrity and foreign-key checks, then
/// Oni's invariants — every stored rollout decodes and validates and agrees
/// with its row, each worker incarnation's sequence numbers rise (a restarted worker counts from 0
/// again, and says when it started), the learner's step
/// counter never goes back, every label is well-formed and points at a
/// message, counts are sane. Streams the rollouts, so memory stays bounded.
public enum StoreCheck {
    public struct Report: Sendable {
        /// What was looked at, by name.
        public var counts: [(String, Int)] = []
        /// Every problem found (capped per kind in the message text).
        public var problems: [String] = []
        public var isClean: Bool { problems.isEmpty }
    }

    /// Checks the store; `progress` is called every 10,000 rollouts with the number done and the total.
    public static func run(_ store: RunStore, progress: (Int, Int) -> Void = { _, _ in }) throws(StorageError) -> Report {
        let db = store.database
        var report = Report()
        func problem(_ text: String) { report.problems.append(text) }

        let integrity = try column(db, "PRAGMA integrity_check")
        if integrity != ["ok"] { problem("SQLite integrity_check: " + integrity.prefix(5).joined(separator: "; ")) }
        let foreign = try db.prepare("PRAGMA foreign_key_check")
        var dangling = 0
        while try foreign.step() { dangling += 1 }
        if dangling > 0 { problem("\(dangling) rows reference rows that do not exist (PRAGMA foreign_key_check)") }
        let version = try db.scalarInt("PRAGMA user_version") ?? 0
        // An older schema is migrated the next time the store is opened for writing.
        if !(1...Int64(RunStore.schemaVersion)).contains(version) { problem("schema version \(version), this Oni reads 1 to \(RunStore.schemaVersion)") }

        // Rollouts: decode, validate, agree with the row; per-worker order; learner steps monotone.
        let total = Int(try db.scalarInt("SELECT count(*) FROM rollouts") ?? 0)
        // Schema 4 stores the intrinsic reward paid, one float per step.
        let paid = version >= 4 ? "length(intrinsic)" : "NULL"
        let rows = try db.prepare(
            "SELECT id, worker_id, sequence, steps, learner_env_steps, protobuf, \(paid), \(store.blobCodecColumn) FROM rollouts ORDER BY id")
        var done = 0, undecodable = 0, invalid = 0, mismatched = 0, disorder = 0, stepsBack = 0, wrongPaid = 0, thinned = 0
        var lastSequence: [String: Int64] = [:]
        /// Each worker's incarnations seen (their start times), and the latest.
        var incarnations: [String: Set<UInt64>] = [:], latestStart: [String: UInt64] = [:]
        var lastSteps: Int64 = -1
        while try rows.step() {
            let (id, worker, sequence, steps, learnerSteps) = (rows.int(0), rows.text(1), rows.int(2), rows.int(3), rows.int(4))
            // An undecodable blob counts with the worker's latest incarnation.
            var incarnation = latestStart[worker].map { $0 == 0 ? worker : "\(worker)@\($0)" } ?? worker
            do {
                // Thinned by the size cap: the row stays, the blob is gone (nothing to decode).
                guard let protobuf = try RolloutBlob.protobuf(rows.blob(5), codec: rows.int(7)) else {
                    thinned += 1
                    throw ThinnedBlob()
                }
                let rollout = try Rollout(wire: Oni_V1_Rollout(serializedBytes: protobuf))
                incarnation = rollout.incarnation
                let started = rollout.workerStartedUnixMilliseconds
                incarnations[worker, default: []].insert(started)
                // Incarnations follow one another: an older one's rollouts never come after a newer one's.
                if let latest = latestStart[worker], started < latest {
                    disorder += 1
                    if disorder <= 3 { problem("rollout \(id): \(worker) of a process started before the one whose rollouts came before") }
                }
                latestStart[worker] = max(latestStart[worker] ?? 0, started)
                if rollout.workerID != worker || Int64(rollout.sequence) != sequence || Int64(rollout.stepCount) != steps {
                    mismatched += 1
                    if mismatched <= 3 { problem("rollout \(id): row says \(worker) #\(sequence) (\(steps) steps), blob says \(rollout.workerID) #\(rollout.sequence) (\(rollout.stepCount))") }
                }
            } catch is ThinnedBlob {
            } catch let error as WireConversionError {
                invalid += 1
                if invalid <= 3 { problem("rollout \(id) does not validate: \(error)") }
            } catch {
                undecodable += 1
                if undecodable <= 3 { problem("rollout \(id) is not a protobuf Rollout: \(error)") }
            }
            if let last = lastSequence[incarnation], sequence <= last {
                disorder += 1
                if disorder <= 3 { problem("rollout \(id): \(worker) sequence \(sequence) after \(last)") }
            }
            lastSequence[incarnation] = sequence
            if learnerSteps < lastSteps {
                stepsBack += 1
                if stepsBack <= 3 { problem("rollout \(id): learner env steps went back from \(lastSteps) to \(learnerSteps)") }
            }
            lastSteps = learnerSteps
            if !rows.isNull(6) && rows.int(6) != steps * 4 {
                wrongPaid += 1
                if wrongPaid <= 3 { problem("rollout \(id): \(rows.int(6)) bytes of intrinsic reward for \(steps) steps") }
            }
            done += 1
            if done % 10_000 == 0 { progress(done, total) }
        }
        for (count, what) in [(undecodable, "undecodable"), (invalid, "invalid"), (mismatched, "mismatched"), (disorder, "out-of-order"), (stepsBack, "step-counter"), (wrongPaid, "intrinsic-reward")]
        where count > 3 {
            problem("… \(count) \(what) rollouts in all")
        }

        // Labels and messages.
        let badLabels = try db.scalarInt(
            """
            SELECT count(*) FROM labels WHERE status NOT IN \(StoredOutcome.allList)
                OR (status = 'labelled' AND (label IS NULL OR label NOT IN (0, 1) OR confidence IS NULL OR confidence < 0 OR confidence > 1))
                OR (status != 'labelled' AND label IS NOT NULL)
            """) ?? 0
        if badLabels > 0 { problem("\(badLabels) labels are malformed (unknown status, or a label value that is not 0/1)") }
        let badMessages = try db.scalarInt("SELECT count(*) FROM messages WHERE count < 0 OR first_seen_env_steps < 0 OR text = ''") ?? 0
        if badMessages > 0 { problem("\(badMessages) messages have a negative count, a negative first sighting or no text") }
        let badEpisodes = try db.scalarInt("SELECT count(*) FROM episodes WHERE length <= 0 OR end_step < 0 OR env_index < 0") ?? 0
        if badEpisodes > 0 { problem("\(badEpisodes) episodes have an impossible length, end step or env index") }

        report.counts = [
            ("rollouts", done), ("thinned by the size cap", thinned), ("worker incarnations", incarnations.values.reduce(0) { $0 + $1.count }), ("episodes", Int(try db.scalarInt("SELECT count(*) FROM episodes") ?? 0)),
            ("messages", Int(try db.scalarInt("SELECT count(*) FROM messages") ?? 0)),
            ("labels", Int(try db.scalarInt("SELECT count(*) FROM labels") ?? 0)),
            ("metric values", Int(try db.scalarInt("SELECT count(*) FROM metrics") ?? 0)),
        ]
        return report
    }

    private struct ThinnedBlob: Error {}

    private static func column(_ db: SQLiteDatabase, _ sql: String) throws(StorageError) -> [String] {
        let statement = try db.prepare(sql)
        var values: [String] = []
        while try statement.step() { values.append(statement.text(0)) }
        return values
    }
}
