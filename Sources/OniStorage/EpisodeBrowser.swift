import Foundation
import OniCore
import OniWire
import SwiftProtobuf

/// Episodes as a run stored them: listed with filters, and replayed step by
/// step from the stored rollouts (`oni episodes list|show`).
public struct EpisodeBrowser {
    public let store: RunStore

    public init(store: RunStore) {
        self.store = store
    }

    /// One stored episode.
    public struct Row: Sendable, Hashable {
        public var id: Int64
        public var rolloutID: Int64?
        public var workerID: String
        public var envIndex: Int
        public var workerEpisode: UInt64
        public var seed: UInt64
        public var episodeReturn: Double
        public var length: Int
        public var success: Bool
        public var endStep: Int
        public var learnerEnvSteps: UInt64
    }

    /// Which episodes to list; nil fields do not filter.
    public struct Filter: Sendable {
        public var minReturn: Double?, maxReturn: Double?
        public var minLength: Int?, maxLength: Int?
        public var worker: String?
        /// Learner env steps at the episode's end.
        public var fromStep: UInt64?, untilStep: UInt64?
        public var success: Bool?
        public var limit = 50

        public init() {}
    }

    static let columns = "id, rollout_id, worker_id, env_index, worker_episode, seed, episode_return, length, success, end_step, learner_env_steps"

    /// Episodes matching `filter`, oldest first.
    public func list(_ filter: Filter) throws(StorageError) -> [Row] {
        var clauses: [String] = [], values: [SQLiteValue] = []
        func add(_ clause: String, _ value: SQLiteValue?) {
            guard let value else { return }
            clauses.append(clause)
            values.append(value)
        }
        add("episode_return >= ?", filter.minReturn.map { .double($0) })
        add("episode_return <= ?", filter.maxReturn.map { .double($0) })
        add("length >= ?", filter.minLength.map { .int(Int64($0)) })
        add("length <= ?", filter.maxLength.map { .int(Int64($0)) })
        add("worker_id = ?", filter.worker.map { .text($0) })
        add("learner_env_steps >= ?", filter.fromStep.map { .int(Int64($0)) })
        add("learner_env_steps <= ?", filter.untilStep.map { .int(Int64($0)) })
        add("success = ?", filter.success.map { .int($0 ? 1 : 0) })
        let condition = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        let statement = try store.database.prepare("SELECT \(Self.columns) FROM episodes \(condition) ORDER BY id LIMIT \(max(filter.limit, 0))")
        if !values.isEmpty { try statement.bind(values: values) }
        var rows: [Row] = []
        while try statement.step() { rows.append(Self.row(statement)) }
        return rows
    }

    /// The episode with `id`, if stored.
    public func episode(_ id: Int64) throws(StorageError) -> Row? {
        let statement = try store.database.prepare("SELECT \(Self.columns) FROM episodes WHERE id = ?").bind(.int(id))
        return try statement.step() ? Self.row(statement) : nil
    }

    private static func row(_ s: Statement) -> Row {
        Row(
            id: s.int(0), rolloutID: s.isNull(1) ? nil : s.int(1), workerID: s.text(2), envIndex: Int(s.int(3)),
            workerEpisode: UInt64(bitPattern: s.int(4)), seed: UInt64(bitPattern: s.int(5)), episodeReturn: s.double(6),
            length: Int(s.int(7)), success: s.int(8) != 0, endStep: Int(s.int(9)), learnerEnvSteps: UInt64(s.int(10)))
    }

    /// One step of an episode: what the agent saw, did and got.
    public struct Frame: Sendable {
        /// Step number within the episode, from 0.
        public var step: Int
        /// The observation the action was chosen from, by field name (one env's slice).
        public var observation: [String: Tensor]
        public var action: Int32
        public var reward: Float
        /// The message shown after the action ("" for none) and its occurrence in the episode.
        public var message: String
        public var messageCount: Int32
        /// Params version that acted.
        public var policyVersion: Int64
        /// The rollout's environment (for naming actions).
        public var envName: String
        /// The intrinsic reward the learner paid for this step, and what paid it (nil: not recorded).
        public var intrinsic: Float?
        public var rewardType: String?
        public var rewardModelVersion: Int?
    }

    /// Why an episode cannot be shown whole.
    public enum ReplayGap: Error, CustomStringConvertible, Equatable {
        case notRetained(episode: Int64)
        case missingRollouts(episode: Int64, framesFound: Int, length: Int)
        case undecodable(rollout: Int64, reason: String)

        public var description: String {
            switch self {
            case let .notRetained(episode): "episode \(episode): its rollouts were not kept (--store-fraction below 1, or thinned by the store's size cap)"
            case let .missingRollouts(episode, found, length):
                "episode \(episode): only the last \(found) of its \(length) steps are stored (earlier rollouts were dropped or not kept)"
            case let .undecodable(rollout, reason): "rollout \(rollout) cannot be read: \(reason)"
            }
        }
    }

    /// The episode's steps, oldest first, rebuilt from its worker's stored rollouts:
    /// the one it ended in and as many before it (consecutive sequence numbers) as it spans.
    /// Frames found before a gap are returned with the gap.
    public func frames(of row: Row) throws -> (frames: [Frame], gap: ReplayGap?) {
        guard let last = row.rolloutID else { return ([], .notRetained(episode: row.id)) }
        let statement = try store.database.prepare(
            "SELECT id, protobuf, \(store.blobCodecColumn) FROM rollouts WHERE worker_id = ? AND id <= ? ORDER BY id DESC"
        ).bind(.text(row.workerID), .int(last))
        var frames: [Frame] = []  // newest first while collecting
        var expectedSequence: UInt64?
        var endStep = row.endStep
        while frames.count < row.length, try statement.step() {
            let id = statement.int(0)
            let rollout: Rollout
            do {
                // A blob the store's size cap thinned ends what can be rebuilt, like one not kept.
                guard let protobuf = try RolloutBlob.protobuf(statement.blob(1), codec: statement.int(2)) else {
                    return frames.isEmpty ? ([], .notRetained(episode: row.id)) : (frames.reversed(), .missingRollouts(episode: row.id, framesFound: frames.count, length: row.length))
                }
                rollout = try Rollout(wire: Oni_V1_Rollout(serializedBytes: protobuf))
            } catch {
                return (frames.reversed(), .undecodable(rollout: id, reason: "\(error)"))
            }
            if let expected = expectedSequence, rollout.sequence != expected { break }
            guard row.envIndex < rollout.numEnvs else { break }
            let paid = try store.paidIntrinsicReward(rolloutID: id).flatMap { $0.rewards.count == rollout.stepCount ? $0 : nil }
            var t = endStep
            while t >= 0 && frames.count < row.length {
                var frame = Self.frame(rollout, t: t, env: row.envIndex)
                if let paid {
                    frame.intrinsic = paid.rewards[t * rollout.numEnvs + row.envIndex]
                    (frame.rewardType, frame.rewardModelVersion) = (paid.rewardType, paid.modelVersion)
                }
                frames.append(frame)
                t -= 1
            }
            guard rollout.sequence > 0 else { break }
            expectedSequence = rollout.sequence - 1
            endStep = rollout.numSteps - 1
        }
        frames.reverse()
        for i in frames.indices { frames[i].step = row.length - frames.count + i }
        return (frames, frames.count < row.length ? .missingRollouts(episode: row.id, framesFound: frames.count, length: row.length) : nil)
    }

    private static func frame(_ r: Rollout, t: Int, env b: Int) -> Frame {
        let k = t * r.numEnvs + b
        var observation: [String: Tensor] = [:]
        for (name, tensor) in r.observations {
            let rowShape = Array(tensor.shape.dropFirst(2))
            let size = rowShape.reduce(1, *) * tensor.elementType.byteCount
            let start = tensor.bytes.startIndex + k * size
            observation[name] = Tensor(elementType: tensor.elementType, shape: rowShape, bytes: Data(tensor.bytes[start..<(start + size)]))
        }
        let index = Int(r.messageIndex[k])
        return Frame(
            step: 0, observation: observation, action: r.actions[k], reward: r.rewards[k],
            message: index >= 0 ? r.messages[index] : "", messageCount: r.messageEpisodeCount[k], policyVersion: r.policyVersion,
            envName: r.envName)
    }
}
