import Foundation
import OniCore

/// One thing for the run store to keep. Records are written in batches by `StoreWriter`.
public enum StoreRecord: Sendable {
    /// A received rollout: its protobuf bytes (replayable) and the episodes that ended in it.
    case rollout(StoredRollout)
    /// A message's id, text and global occurrence count (inserted or updated).
    case message(id: UInt64, text: String, count: Int64, firstSeenEnvSteps: UInt64)
    /// An annotator's answer for a message.
    case label(AnnotationResult, unixMilliseconds: Int64)
    /// A pair of messages the LLM is asked to compare (ranking reward); `id` is the pair's number in the store.
    case pair(id: UInt64, firstID: UInt64, secondID: UInt64, createdEnvSteps: UInt64)
    /// The annotator's judgement of a pair; the result's `messageID` is the pair's number.
    case pairLabel(AnnotationResult, unixMilliseconds: Int64)
    /// A metrics snapshot.
    case metrics(unixMilliseconds: Int64, envSteps: UInt64, values: [String: Double])

    /// Bytes of blob data the record holds (what bounds the writer's memory).
    var blobBytes: Int {
        if case let .rollout(r) = self { return r.protobuf?.count ?? 0 }
        return 0
    }
}

/// A rollout as stored: header fields for queries plus the exact protobuf body.
public struct StoredRollout: Sendable {
    public var workerID: String
    public var sequence: UInt64
    public var policyVersion: Int64
    /// Environment steps in the rollout (T × B).
    public var steps: Int
    /// The learner's environment-step counter after this rollout.
    public var learnerEnvSteps: UInt64
    public var replay: Bool
    public var receivedUnixMilliseconds: Int64
    /// The protobuf encoding of `oni.v1.Rollout`; nil to record only its episodes (rollouts not retained).
    public var protobuf: Data?
    public var episodes: [EpisodeSummary]
    /// The intrinsic reward the learner paid for each step, as it paid it (nil: not computed).
    public var intrinsic: PaidIntrinsicReward?

    public init(
        workerID: String, sequence: UInt64, policyVersion: Int64, steps: Int, learnerEnvSteps: UInt64, replay: Bool,
        receivedUnixMilliseconds: Int64, protobuf: Data?, episodes: [EpisodeSummary]
    ) {
        self.workerID = workerID
        self.sequence = sequence
        self.policyVersion = policyVersion
        self.steps = steps
        self.learnerEnvSteps = learnerEnvSteps
        self.replay = replay
        self.receivedUnixMilliseconds = receivedUnixMilliseconds
        self.protobuf = protobuf
        self.episodes = episodes
    }
}

/// The intrinsic reward paid for a rollout's steps: the term the learner added to each step's
/// reward (llm coefficient × r_int / N^β), and what produced it.
public struct PaidIntrinsicReward: Sendable, Equatable {
    /// The reward type (`retrieval`, `classification`, …).
    public var rewardType: String
    /// The reward model's version when it was paid: the published model round for classification
    /// and ranking, the number of labels known for retrieval, 0 otherwise.
    public var modelVersion: Int
    /// One value per step, [T, B] in the rollout's order.
    public var rewards: [Float]

    public init(rewardType: String, modelVersion: Int, rewards: [Float]) {
        self.rewardType = rewardType
        self.modelVersion = modelVersion
        self.rewards = rewards
    }

    /// The rewards as little-endian float32 bytes, as the store keeps them.
    public var blob: Data { rewards.withUnsafeBufferPointer { Data(buffer: $0) } }

    public static func floats(_ blob: Data) -> [Float] {
        blob.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
