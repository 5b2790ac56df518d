import Foundation
import Logging
import OniCore
import OniStorage
import OniTransport
import OniWire
import SwiftProtobuf

/// `oni replay rollouts`: streams a run's stored rollouts to a learner exactly
/// as a worker sends them (PUSH to its experience socket, same frames), marked
/// as replay, oldest first, reading the store in small batches so memory stays
/// bounded whatever its size. The learner's V-trace corrects with the stored
/// behaviour log-probabilities.
public final class RolloutReplayer {
    public struct Config: Sendable {
        public var runDirectory: String
        /// The learner's experience endpoint.
        public var endpoint: String
        /// Most rollouts per second (nil = as fast as the learner takes them).
        public var rate: Double?
        /// Only rollouts the original learner received between these env-step counts.
        public var fromStep: UInt64?
        public var untilStep: UInt64?

        public init(runDirectory: String, endpoint: String) {
            self.runDirectory = runDirectory
            self.endpoint = endpoint
        }
    }

    public struct Progress: Sendable {
        public var sent = 0
        public var total = 0
        /// Stored rows that did not decode as rollouts (skipped, counted).
        public var unreadable = 0
        /// Rows whose blob the store's size cap thinned (skipped, counted).
        public var thinned = 0
    }

    public let config: Config
    private let transport: any Transport
    private let stop: StopSignal
    private let logger: Logger

    public init(config: Config, transport: (any Transport)? = nil, stop: StopSignal, logger: Logger) {
        self.config = config
        self.transport = transport ?? ZMQContext()
        self.stop = stop
        self.logger = logger
    }

    /// Sends every selected rollout (or until stopped); `report` gets progress every two seconds and at the end.
    public func run(report: (Progress) -> Void) throws -> Progress {
        let path = URL(fileURLWithPath: config.runDirectory).appendingPathComponent(RunStore.fileName).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw RuntimeError.invalidConfiguration("\(path) does not exist: not a run directory")
        }
        let store = try RunStore(path: path, readOnly: true)
        defer { store.close() }
        let range = "learner_env_steps BETWEEN \(config.fromStep ?? 0) AND \(min(config.untilStep ?? UInt64(Int64.max), UInt64(Int64.max)))"
        var progress = Progress()
        progress.total = Int(try store.database.scalarInt("SELECT count(*) FROM rollouts WHERE \(range)") ?? 0)

        // On closing, the last rollouts get a moment to reach the learner.
        let socket = try MessageChannel(
            transport: transport, type: .push, .connect(config.endpoint),
            options: ChannelOptions(sendHighWaterMark: 2, sendTimeoutMilliseconds: 200, lingerMilliseconds: 2000),
            name: "replay", accepts: [], logger: logger)
        defer { socket.close() }

        var lastID: Int64 = 0
        var lastReport = Date()
        let started = Date()
        reading: while !stop.isStopped {
            let batch = try store.database.prepare(
                "SELECT id, protobuf, \(store.blobCodecColumn) FROM rollouts WHERE id > ? AND \(range) ORDER BY id LIMIT 64"
            ).bind(.int(lastID))
            var rows: [(Int64, Data, Int64)] = []
            while try batch.step() { rows.append((batch.int(0), batch.blob(1), batch.int(2))) }
            if rows.isEmpty { break }
            for (id, blob, codec) in rows {
                lastID = id
                let protobuf: Data?
                do {
                    protobuf = try RolloutBlob.protobuf(blob, codec: codec)
                } catch {
                    progress.unreadable += 1
                    continue
                }
                guard let protobuf else {
                    progress.thinned += 1
                    continue
                }
                guard var rollout = try? Oni_V1_Rollout(serializedBytes: protobuf) else {
                    progress.unreadable += 1
                    continue
                }
                rollout.replay = true
                // Its own sender id: never mistaken for (or counted against) a live worker.
                rollout.workerID = "replay:" + rollout.workerID
                while !stop.isStopped {
                    if try socket.send(.rollout(rollout)) { break }
                }
                if stop.isStopped { break reading }
                progress.sent += 1
                if let rate = config.rate, rate > 0 {
                    let due = started.addingTimeInterval(Double(progress.sent) / rate)
                    if due > Date() { Thread.sleep(until: due) }
                }
                if Date().timeIntervalSince(lastReport) >= 2 {
                    lastReport = Date()
                    report(progress)
                }
            }
        }
        report(progress)
        return progress
    }
}
