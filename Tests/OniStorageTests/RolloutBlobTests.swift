import Foundation
import Logging
import OniCore
import OniStorage
import OniTestSupport
import Testing

/// Rollout blobs compressed on the way in, and the store's size cap thinning the oldest.
@Suite struct RolloutBlobTests {
    let logger = Logger(label: "oni.test")

    @Test func blobsRoundTripAndDamageIsATypedError() throws {
        let protobuf = try sampleRollout(steps: 16, envs: 8).wire.serializedData()
        let blob = RolloutBlob.compress(protobuf)
        #expect(blob.count < protobuf.count)
        #expect(try RolloutBlob.protobuf(blob, codec: RolloutBlob.Codec.zstd.rawValue) == protobuf)
        #expect(try RolloutBlob.protobuf(protobuf, codec: RolloutBlob.Codec.raw.rawValue) == protobuf, "stores before schema 5")
        #expect(try RolloutBlob.protobuf(Data(), codec: RolloutBlob.Codec.thinned.rawValue) == nil)
        var damaged = blob
        damaged[damaged.count / 2] ^= 0xFF
        damaged.removeLast(3)
        #expect(throws: StorageError.self) { try RolloutBlob.protobuf(damaged, codec: RolloutBlob.Codec.zstd.rawValue) }
        #expect(throws: StorageError.self) { try RolloutBlob.protobuf(blob, codec: 9) }
    }

    /// Past the cap the oldest blobs go (rows, episodes and messages stay), the newest are kept,
    /// the figures say so, and the store still checks clean and replays what is left.
    @Test func theCapThinsTheOldestAndKeepsEverythingElse() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oni-cap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(RunStore.fileName).path
        let one = RolloutBlob.compress(try sampleRollout().wire.serializedData()).count
        let writer = try StoreWriter(path: path, maxBatch: 5, flushInterval: 0.01, maxBlobBytes: Int64(one * 10), logger: logger)
        for sequence in UInt64(0)..<40 {
            let rollout = sampleRollout(sequence: sequence)
            writer.submit(
                .rollout(
                    StoredRollout(
                        workerID: rollout.workerID, sequence: sequence, policyVersion: -1, steps: rollout.stepCount, learnerEnvSteps: sequence * 12,
                        replay: false, receivedUnixMilliseconds: 0, protobuf: try rollout.wire.serializedData(), episodes: rollout.episodes)))
        }
        writer.close()
        let stats = writer.currentStats
        #expect(stats.thinnedRollouts >= 30 && stats.blobBytes <= Int64(one * 10), "\(stats)")
        let store = try RunStore(path: path, readOnly: true)
        #expect(try store.count(.rollouts) == 40 && store.count(.episodes) == 40, "rows and episodes stay")
        #expect(try store.blobBytes() == stats.blobBytes)
        let kept = try store.database.scalarInt("SELECT min(sequence) FROM rollouts WHERE codec = 1") ?? -1
        #expect(kept >= 30, "the newest are the ones kept")
        let report = try StoreCheck.run(store)
        #expect(report.isClean, "\(report.problems)")
        #expect(report.counts.first { $0.0 == "thinned by the size cap" }?.1 == stats.thinnedRollouts)
    }
}
