import Foundation
import Logging
import OniCore
import OniStorage
import OniTestSupport
import OniWire
import Testing

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("oni-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct RunStoreTests {
    let logger = Logger(label: "oni.test.store")

    func records() throws -> [StoreRecord] {
        let rollout = sampleRollout()
        return [
            .message(id: 1, text: "You find a key.", count: 3, firstSeenEnvSteps: 10),
            .message(id: 2, text: "It's a wall.", count: 9, firstSeenEnvSteps: 12),
            .rollout(
                StoredRollout(
                    workerID: rollout.workerID, sequence: 0, policyVersion: -1, steps: rollout.stepCount, learnerEnvSteps: 12,
                    replay: false, receivedUnixMilliseconds: 1000, protobuf: try rollout.wire.serializedData(), episodes: rollout.episodes)),
            .label(AnnotationResult(messageID: 1, outcome: .labelled(value: 1, confidence: 1), model: "m", promptHash: "p", reply: "<label>yes</label>"), unixMilliseconds: 2000),
            .label(AnnotationResult(messageID: 2, outcome: .unparseable(reason: "no tag"), model: "m", promptHash: "p", reply: "hmm"), unixMilliseconds: 2001),
            .message(id: 1, text: "You find a key.", count: 5, firstSeenEnvSteps: 10),
            .metrics(unixMilliseconds: 3000, envSteps: 12, values: ["env/fps": 100, "env/episodes": 1]),
        ]
    }

    @Test func writeReadReopen() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let store = try RunStore(runDirectory: dir)
            try store.write(try records())
        }
        let store = try RunStore(runDirectory: dir, readOnly: true)
        #expect(try store.database.scalarInt("PRAGMA user_version") == Int64(RunStore.schemaVersion))
        let messages = try store.messages()
        #expect(messages.map(\.text) == ["You find a key.", "It's a wall."])
        #expect(messages.map(\.count) == [5, 9])
        #expect(messages[0].label == 1)
        #expect(messages[1].label == nil)  // unparseable is stored, but is no label
        #expect(try store.count(.labels) == 2)
        #expect(try store.count(.episodes) == 1)
        let stored = try store.rollouts(afterID: 0, limit: 10)
        #expect(stored.count == 1)
        #expect(try Rollout(wire: Oni_V1_Rollout(serializedBytes: stored[0].protobuf)) == sampleRollout())
        #expect(try store.metrics(names: ["env/fps"]).map(\.value) == [100])
        #expect(try store.integrityCheck() == ["ok"])
        #expect(try store.lastLearnerEnvSteps() == 12)
    }

    @Test func aDisagreementSettlesItsMessageWithoutALabelAndABackendErrorDoesNot() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try RunStore(runDirectory: dir)
        defer { store.close() }
        try store.write([
            .message(id: 1, text: "You hear the footsteps of a guard on patrol.", count: 2, firstSeenEnvSteps: 1),
            .message(id: 2, text: "You find a key.", count: 1, firstSeenEnvSteps: 1),
            .label(AnnotationResult(messageID: 1, outcome: .disagreed(reason: "logprob yes, tagged no"), model: "m", promptHash: "p", reply: "yes | no"), unixMilliseconds: 1),
            .label(AnnotationResult(messageID: 2, outcome: .backendError(reason: "HTTP 503"), model: "m", promptHash: "p", reply: ""), unixMilliseconds: 2),
            .message(id: 3, text: "You kill the newt!", count: 1, firstSeenEnvSteps: 2),
            .label(AnnotationResult(messageID: 3, outcome: .labelled(value: 1, confidence: 0.75), model: "m", promptHash: "p", reply: "yes"), unixMilliseconds: 3),
        ])
        let rows = try store.messages()
        #expect(rows.map(\.settled) == [true, false, true] && rows.map(\.label) == [nil, nil, 1] && rows.map(\.failures) == [0, 1, 0])
        #expect(rows[2].confidence == 0.75, "the confidence comes back with the label (the classifier's weight on resume)")
        #expect(try store.database.scalarInt("SELECT count(*) FROM labels WHERE status = 'disagreed'") == 1)
        #expect(try StoreCheck.run(store).isClean)
    }

    @Test func writerBatchesInTheBackgroundAndFlushesOnClose() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(RunStore.fileName).path
        let writer = try StoreWriter(path: path, maxBatch: 100, flushInterval: 0.05, logger: logger)
        for i in 0..<2500 {
            writer.submit(.metrics(unixMilliseconds: Int64(i), envSteps: UInt64(i), values: ["x": Double(i)]))
        }
        writer.close()
        let stats = writer.currentStats
        #expect(stats.written == 2500)
        #expect(stats.transactions >= 25)
        #expect(stats.pending == 0)
        let store = try RunStore(path: path, readOnly: true)
        #expect(try store.metrics(names: ["x"]).map(\.value) == (0..<2500).map(Double.init))
        // WAL mode persists in the file.
        let mode = try store.database.prepare("PRAGMA journal_mode")
        #expect(try mode.step())
        #expect(mode.text(0) == "wal")
    }

    @Test func rolloutsBeyondTheByteBudgetAreDroppedAndCountedWithoutBlocking() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(RunStore.fileName).path
        // A long flush interval and a big batch keep everything queued while we submit.
        let writer = try StoreWriter(path: path, maxBatch: 10_000, flushInterval: 60, maxPendingBytes: 10_000, logger: logger)
        let blob = Data(repeating: 1, count: 4000)
        var accepted = 0
        for i in 0..<5 {
            let stored = StoredRollout(
                workerID: "w", sequence: UInt64(i), policyVersion: -1, steps: 1, learnerEnvSteps: UInt64(i), replay: false,
                receivedUnixMilliseconds: 0, protobuf: blob, episodes: [])
            if writer.submit(.rollout(stored)) { accepted += 1 }
        }
        // Small records still get in.
        #expect(writer.submit(.message(id: 1, text: "It's a wall.", count: 1, firstSeenEnvSteps: 0)))
        #expect(accepted == 2)
        #expect(writer.currentStats.droppedRollouts == 3)
        writer.close()
        let store = try RunStore(path: path, readOnly: true)
        #expect(try store.count(.rollouts) == 2)
        #expect(try store.count(.messages) == 1)
    }

    @Test func aBadRecordCostsOnlyItself() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(RunStore.fileName).path
        let writer = try StoreWriter(path: path, maxBatch: 100, flushInterval: 0.01, logger: logger)
        writer.submit(.message(id: 1, text: "You find a key.", count: 1, firstSeenEnvSteps: 0))
        // A label for a message the store has never seen breaks the foreign key.
        writer.submit(.label(AnnotationResult(messageID: 99, outcome: .labelled(value: 1, confidence: 1), model: "m", promptHash: "p", reply: ""), unixMilliseconds: 0))
        writer.submit(.label(AnnotationResult(messageID: 1, outcome: .labelled(value: 1, confidence: 1), model: "m", promptHash: "p", reply: ""), unixMilliseconds: 0))
        writer.close()
        #expect(writer.currentStats.failedRecords == 1)
        #expect(writer.currentStats.written == 2)
        let store = try RunStore(path: path, readOnly: true)
        #expect(try store.messages().first?.label == 1)
    }

    @Test func episodesAreKeptWhenRolloutsAreNot() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try RunStore(runDirectory: dir)
        let episode = EpisodeSummary(envIndex: 0, episodeID: 1, episodeReturn: 1, length: 20, success: true, endStep: 3, seed: 9)
        try store.write([
            .rollout(StoredRollout(
                workerID: "w", sequence: 0, policyVersion: -1, steps: 64, learnerEnvSteps: 640, replay: false,
                receivedUnixMilliseconds: 0, protobuf: nil, episodes: [episode]))
        ])
        #expect(try store.count(.rollouts) == 0)
        #expect(try store.count(.episodes) == 1)
        #expect(try store.lastLearnerEnvSteps() == 640)
    }

    @Test func aRunDirectoryHasOneLearnerAtATime() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try RunDirectoryLock(runDirectory: dir)
        #expect {
            _ = try RunDirectoryLock(runDirectory: dir)
        } throws: { error in
            guard case let .locked(_, holder)? = error as? RunDirectoryLockError else { return false }
            return holder.contains("pid \(getpid())")
        }
        first.release()
        _ = try RunDirectoryLock(runDirectory: dir)
    }

    @Test func garbageFileIsReportedAsCorrupt() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(RunStore.fileName).path
        try Data(repeating: 0xAB, count: 8192).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try RunStore(path: path)
        } throws: { error in
            guard case .corrupt? = error as? StorageError else { return false }
            return true
        }
    }

    @Test func newerSchemaIsRefused() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(RunStore.fileName).path
        do {
            let db = try SQLiteDatabase(path: path)
            try db.execute("PRAGMA user_version = 99")
        }
        #expect(throws: StorageError.schemaTooNew(found: 99, supported: RunStore.schemaVersion)) { _ = try RunStore(path: path) }
    }

    /// A store written by schema 1 (no pairs, no evaluations) opens in this build: migrated in place, its rows kept.
    @Test func versionOneStoreIsMigrated() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(RunStore.fileName).path
        do {
            let store = try RunStore(path: path)
            try store.write([.message(id: 1, text: "You find a key.", count: 3, firstSeenEnvSteps: 10),
                             .message(id: 2, text: "It's a wall.", count: 9, firstSeenEnvSteps: 12)])
            // Back to what version 1 wrote.
            try store.database.execute(
                """
                ALTER TABLE rollouts DROP COLUMN intrinsic; ALTER TABLE rollouts DROP COLUMN reward_type;
                ALTER TABLE rollouts DROP COLUMN reward_model_version; ALTER TABLE rollouts DROP COLUMN codec;
                DROP VIEW evaluation_curve; DROP TABLE evaluations;
                DROP VIEW pair_preferences; DROP TABLE pair_labels; DROP TABLE pairs; PRAGMA user_version = 1;
                """)
            store.close()
        }
        let reopened = try RunStore(path: path)
        defer { reopened.close() }
        #expect(try reopened.database.scalarInt("PRAGMA user_version") == 5)
        #expect(try reopened.database.scalarInt("SELECT count(*) FROM pragma_table_info('rollouts') WHERE name IN ('intrinsic', 'reward_type', 'reward_model_version', 'codec')") == 4)
        #expect(try reopened.messages().map(\.text) == ["You find a key.", "It's a wall."])
        #expect(try reopened.evaluations().isEmpty)
        try reopened.write([.pair(id: 1, firstID: 1, secondID: 2, createdEnvSteps: 20)])
        let judged = AnnotationResult(messageID: 1, outcome: .labelled(value: 1, confidence: 1), model: "m", promptHash: "h", reply: "<label>first</label>")
        try reopened.write([.pairLabel(judged, unixMilliseconds: 5)])
        let pairs = try reopened.pairs()
        #expect(pairs == [RunStore.PairRow(id: 1, firstID: 1, secondID: 2, createdEnvSteps: 20, preference: 1, settled: true)])
        let view = try reopened.database.prepare("SELECT first, second, preference FROM pair_preferences")
        #expect(try view.step())
        #expect(view.text(0) == "You find a key." && view.text(1) == "It's a wall." && view.double(2) == 1)
        #expect(try StoreCheck.run(reopened).isClean)
    }

    @Test func unopenablePathIsATypedError() {
        #expect(throws: StorageError.self) { _ = try RunStore(path: "/nonexistent-dir/sub/oni.sqlite") }
    }
}

@Suite struct SQLiteLabelCacheTests {
    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("oni-cache-\(UUID().uuidString)/annotations.sqlite").path
    }

    @Test func labelsOutliveTheProcessThatStoredThem() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let key = LabelCacheKey(model: "qwen", promptHash: "abc", goal: "score", message: "You find a key.")
        do {
            let cache = try SQLiteLabelCache(path: path)
            #expect(cache.label(for: key) == nil)
            cache.store(CachedLabel(value: 1, confidence: 0.75, reply: "<label>yes</label>"), for: key)
            cache.store(CachedLabel(value: 0, confidence: 1, reply: "no"), for: LabelCacheKey(model: "qwen", promptHash: "abc", goal: "score", message: "It's a wall."))
        }
        let reopened = try SQLiteLabelCache(path: path)
        #expect(reopened.count == 2)
        #expect(reopened.label(for: key) == CachedLabel(value: 1, confidence: 0.75, reply: "<label>yes</label>"))
        // Any other model, prompt or goal is another question.
        for other in [
            LabelCacheKey(model: "llama", promptHash: "abc", goal: "score", message: key.message),
            LabelCacheKey(model: "qwen", promptHash: "def", goal: "score", message: key.message),
            LabelCacheKey(model: "qwen", promptHash: "abc", goal: "gold", message: key.message),
        ] {
            #expect(reopened.label(for: other) == nil)
        }
        #expect(reopened.lookups.hits == 1 && reopened.lookups.misses == 3 && reopened.writeFailures == 0)
    }

    @Test func aFileThatIsNotACacheIsACorruptError() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try SQLiteLabelCache(path: path)
        } throws: { error in
            if case .corrupt = error as? StorageError { return true }
            return false
        }
    }
}

@Suite struct StoreCheckTests {
    /// A sound store passes; then each kind of damage is named: a rollout blob that is not a
    /// Rollout, a row that disagrees with its blob, a worker's sequence going back, a label of 0.5.
    @Test func soundStorePassesAndDamageIsNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oni-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try RunStore(runDirectory: dir)
        func stored(_ sequence: UInt64, steps: UInt64, protobuf: Data? = nil) throws -> StoreRecord {
            let rollout = sampleRollout(sequence: sequence)
            return .rollout(
                StoredRollout(
                    workerID: rollout.workerID, sequence: sequence, policyVersion: -1, steps: rollout.stepCount, learnerEnvSteps: steps,
                    replay: false, receivedUnixMilliseconds: 1000, protobuf: try protobuf ?? rollout.wire.serializedData(), episodes: rollout.episodes))
        }
        try store.write([
            .message(id: 1, text: "You find a key.", count: 3, firstSeenEnvSteps: 10), try stored(0, steps: 12), try stored(1, steps: 24),
            .label(AnnotationResult(messageID: 1, outcome: .labelled(value: 1, confidence: 1), model: "m", promptHash: "p", reply: "yes"), unixMilliseconds: 1),
        ])
        let clean = try StoreCheck.run(store)
        #expect(clean.isClean, "\(clean.problems)")
        #expect(clean.counts.first { $0.0 == "rollouts" }?.1 == 2)

        try store.write([try stored(2, steps: 36, protobuf: Data([0xFF, 0xFF, 0xFF])), try stored(1, steps: 30)])
        try store.database.execute("UPDATE labels SET label = 0.5")
        try store.database.execute("UPDATE rollouts SET steps = 7 WHERE id = 2")
        let damaged = try StoreCheck.run(store)
        let text = damaged.problems.joined(separator: "\n")
        #expect(!damaged.isClean)
        #expect(text.contains("rollout 3 is not a protobuf Rollout"), "\(text)")
        #expect(text.contains("rollout 2: row says worker-0 #1 (7 steps)"), "\(text)")
        #expect(text.contains("sequence 1 after 2"), "\(text)")
        #expect(text.contains("learner env steps went back from 36 to 30"), "\(text)")
        #expect(text.contains("1 labels are malformed"), "\(text)")
        store.close()
    }

    /// A restarted worker counts its sequence from 0 again and says when it started: a new
    /// incarnation, not disorder; an older incarnation's rollout after a newer one's is.
    @Test func aRestartedWorkerIsANewIncarnationNotDisorder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oni-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try RunStore(runDirectory: dir)
        defer { store.close() }
        var steps: UInt64 = 0
        func stored(_ sequence: UInt64, started: UInt64) throws -> StoreRecord {
            var rollout = sampleRollout(sequence: sequence)
            rollout.workerStartedUnixMilliseconds = started
            steps += 12
            return .rollout(
                StoredRollout(
                    workerID: rollout.workerID, sequence: sequence, policyVersion: -1, steps: rollout.stepCount, learnerEnvSteps: steps,
                    replay: false, receivedUnixMilliseconds: 1000, protobuf: try rollout.wire.serializedData(), episodes: rollout.episodes))
        }
        try store.write([try stored(0, started: 1000), try stored(1, started: 1000), try stored(0, started: 5000), try stored(1, started: 5000)])
        let clean = try StoreCheck.run(store)
        #expect(clean.isClean, "\(clean.problems)")
        #expect(clean.counts.first { $0.0 == "worker incarnations" }?.1 == 2)
        try store.write([try stored(2, started: 1000)])
        let text = try StoreCheck.run(store).problems.joined(separator: "\n")
        #expect(text.contains("of a process started before"), "\(text)")
    }
}

@Suite struct EpisodeBrowserTests {
    /// An episode that spans two rollouts comes back whole, in order, from both; one longer than
    /// what is stored comes back as far as it goes, with the gap named; filters select.
    @Test func framesSpanRolloutsAndGapsAreNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oni-episodes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try RunStore(runDirectory: dir)
        defer { store.close() }
        let first = sampleRollout(sequence: 0), second = sampleRollout(sequence: 1)  // T = 4, B = 3
        let spanning = EpisodeSummary(envIndex: 1, episodeID: 4, episodeReturn: 2, length: 6, success: true, endStep: 1, seed: 9)
        let long = EpisodeSummary(envIndex: 2, episodeID: 5, episodeReturn: 0, length: 31, success: false, endStep: 3, seed: 10)
        try store.write([
            .rollout(StoredRollout(workerID: "worker-0", sequence: 0, policyVersion: -1, steps: 12, learnerEnvSteps: 12, replay: false,
                receivedUnixMilliseconds: 1, protobuf: try first.wire.serializedData(), episodes: [])),
            .rollout(StoredRollout(workerID: "worker-0", sequence: 1, policyVersion: -1, steps: 12, learnerEnvSteps: 24, replay: false,
                receivedUnixMilliseconds: 2, protobuf: try second.wire.serializedData(), episodes: [spanning, long])),
        ])
        let browser = EpisodeBrowser(store: store)
        var filter = EpisodeBrowser.Filter()
        filter.success = true
        let rows = try browser.list(filter)
        #expect(rows.map(\.length) == [6])
        let (frames, gap) = try browser.frames(of: rows[0])
        #expect(gap == nil)
        #expect(frames.map(\.step) == Array(0..<6))
        // Steps 2, 3 of the first rollout, then 0, 1 of the second — env 1 of 3: k = t·3 + 1.
        let ks = [2, 3].map { $0 * 3 + 1 } + [0, 1].map { $0 * 3 + 1 }
        #expect(frames.suffix(4).map(\.action) == ks.map { first.actions[$0] })
        #expect(frames.suffix(4).map(\.reward) == ks.map { first.rewards[$0] })
        let chars = try #require(frames.last?.observation["chars"])
        #expect(chars.shape == [2, 3] && chars.bytes == second.observations["chars"]!.bytes[(4 * 6)..<(5 * 6)])

        filter = EpisodeBrowser.Filter()
        filter.minLength = 20
        let longRow = try #require(try browser.list(filter).first)
        let partial = try browser.frames(of: longRow)
        #expect(partial.frames.count == 8 && partial.frames.first?.step == 23)
        #expect(partial.gap == .missingRollouts(episode: longRow.id, framesFound: 8, length: 31))
    }
}
