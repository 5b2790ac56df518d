import Foundation

/// Where the intrinsic reward comes from (ONI's `reward_type`).
public enum IntrinsicRewardType: String, Sendable, Codable, CaseIterable {
    /// The reward a command line names: `auto` (nil: the learner's choice, retrieval when it has
    /// an annotator and none otherwise) or a type's name.
    public static func choice(_ text: String) -> IntrinsicRewardType?? {
        text == "auto" ? .some(nil) : IntrinsicRewardType(rawValue: text).map { .some($0) }
    }

    public static let choices = "auto, " + allCases.map(\.rawValue).joined(separator: ", ")

    /// Extrinsic reward only.
    case none
    /// ONI's retrieval: a message's reward is its LLM label (1 = progress, 0 = not),
    /// looked up in the label table; messages not yet labelled give 0.
    case retrieval
    /// ONI's classification: a text classifier trained online on the labels gives every
    /// message, labelled or not, 1 if P(progress) exceeds `classificationThreshold`, else 0.
    case classification
    /// ONI's ranking: the LLM compares pairs of messages (first, second, tie); a Bradley–Terry
    /// score model trained online on those judgements scores every message, and the score,
    /// normalised by its mean and standard deviation over the steps seen, pays where it exceeds
    /// `rankingThreshold` (`RankingPayment`: 1 there, or ONI's z-score itself).
    case ranking
    /// An ELLM-style baseline without the LLM: the cosine similarity of the message's and the
    /// goal text's character n-gram features, when it reaches `cosineThreshold` (else 0).
    case cosine
}

/// How occurrences of a message are counted for the 1/N(msg)^β scaling.
public enum MessageCountScope: String, Sendable, Codable, CaseIterable {
    /// Occurrences in the current episode (ONI's choice).
    case episode
    /// Occurrences over the whole run so far.
    case global
}

/// What the ranking reward pays for a message whose normalised score z exceeds the threshold.
public enum RankingPayment: String, Sendable, Codable, CaseIterable {
    /// 1 (Oni's default, with threshold +0.5): a message either shows progress or it does not.
    case indicator
    /// z itself (ONI's `online_motif`, with threshold −0.5): continuous, and negative between
    /// −0.5 and 0.
    case zscore
}

/// The text model a trained reward learns.
public enum RewardTextModel: String, Sendable, Codable, CaseIterable {
    /// Hashed character 1–3-grams and an MLP (`MessageClassifier`, `MessageRanker`).
    case ngram
    /// A character CNN over the message's bytes (`CharCNNClassifier`; classification only).
    case charCNN = "char-cnn"
}

/// ONI's reward: r = extrinsic_reward_coeff · r_ext + llm_reward_coeff · r_int(msg) / N(msg)^β.
public struct RewardComposition: Sendable, Codable, Equatable {
    public var type = IntrinsicRewardType.none
    /// `extrinsic_reward_coeff`.
    public var extrinsicCoefficient = 1.0
    /// The game's reward is clipped to ±this before its coefficient (ONI / Sample Factory's
    /// `reward_clip`, 10, applied in the actor before the learner composes); 0 = not clipped.
    public var extrinsicClip = 0.0
    /// `llm_reward_coeff`.
    public var llmCoefficient = 0.1
    /// `beta_count_exponent` (β).
    public var countExponent = 3.0
    public var countScope = MessageCountScope.episode
    /// `classification_threshold`: P(progress) above which the classifier's reward is 1.
    public var classificationThreshold = 0.5
    /// Normalised score (in standard deviations above the running mean) above which the ranking reward pays.
    public var rankingThreshold = 0.5
    /// What it pays there.
    public var rankingPayment = RankingPayment.indicator
    /// The classification or ranking reward's text model.
    public var textModel = RewardTextModel.ngram
    /// Similarity from which the cosine reward is the similarity itself.
    public var cosineThreshold = 0.3

    public init() {}

    /// What `compose` added.
    public struct Summary: Sendable, Equatable {
        /// Sum of the intrinsic terms (after coefficient and count scaling).
        public var intrinsic: Double
        /// Steps whose message earned a non-zero intrinsic term.
        public var rewardedSteps: Int
    }

    /// Rewards for the steps of a rollout: `extrinsic[i]` combined with the intrinsic reward of
    /// the message shown after step i (`messageIndex[i]` into `messageRewards`, -1 for none),
    /// scaled by 1/N^β with N = `counts[i]` (occurrences so far, this one included; < 1 counts as 1).
    /// `messageRewards[k]` is r_int of message k, computed once per message, not per step.
    public func compose(
        extrinsic: [Float], messageIndex: [Int32], counts: [Int64], messageRewards: [Double]
    ) -> (rewards: [Float], intrinsic: [Float], summary: Summary) {
        precondition(messageIndex.count == extrinsic.count && counts.count == extrinsic.count, "reward arrays differ in length")
        var rewards = [Float](repeating: 0, count: extrinsic.count)
        var intrinsic = [Float](repeating: 0, count: extrinsic.count)
        var summary = Summary(intrinsic: 0, rewardedSteps: 0)
        for i in extrinsic.indices {
            let game = Double(extrinsic[i])
            var r = extrinsicCoefficient * (extrinsicClip > 0 ? min(max(game, -extrinsicClip), extrinsicClip) : game)
            let k = Int(messageIndex[i])
            if type != .none, k >= 0, k < messageRewards.count, messageRewards[k] != 0 {
                let n = Double(max(counts[i], 1))
                let term = llmCoefficient * messageRewards[k] / pow(n, countExponent)
                r += term
                intrinsic[i] = Float(term)
                summary.intrinsic += term
                if term != 0 { summary.rewardedSteps += 1 }
            }
            rewards[i] = Float(r)
        }
        return (rewards, intrinsic, summary)
    }
}
