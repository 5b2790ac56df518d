/// Which implementation each reward type is: decided here and nowhere else.
extension IntrinsicRewardType {
    /// The text model a trained reward type learns (nil for the others).
    public var trainedModel: (any TrainedRewardModel.Type)? {
        switch self {
        case .classification: MessageClassifier.self
        case .ranking: MessageRanker.self
        case .none, .retrieval, .cosine: nil
        }
    }
}

extension RewardComposition {
    /// What a trained model's output pays under these settings (nil for untrained rewards).
    public var payRule: (any MessagePayRule)? {
        switch type {
        case .classification: ProbabilityAbove(threshold: classificationThreshold)
        case .ranking: StandardisedScore(threshold: rankingThreshold, payment: rankingPayment)
        case .none, .retrieval, .cosine: nil
        }
    }

    /// The intrinsic reward these settings name; a trained model's weights start from `seed` + 101 (as `oni replay fit-reward`'s).
    public func makeReward(seed: UInt64, goalText: String) -> any IntrinsicReward {
        switch type {
        case .none: return NoIntrinsicReward()
        case .retrieval: return RetrievalReward()
        case .cosine: return CosineReward(goalText: goalText, threshold: cosineThreshold)
        case .classification, .ranking:
            func trained<Model: TrainedRewardModel>(_ model: Model.Type) -> any IntrinsicReward {
                TrainedReward(model: Model(seed: seed &+ 101), rule: payRule!)
            }
            return trained(self.type.trainedModel!)
        }
    }
}
