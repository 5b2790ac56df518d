/// Which implementation each reward type is: decided here and nowhere else.
extension IntrinsicRewardType {
    /// The text model a trained reward type learns with `model` (nil for the others, and for a
    /// ranking reward on the character CNN, which only classifies).
    public func trainedModel(_ model: RewardTextModel = .ngram) -> (any TrainedRewardModel.Type)? {
        switch (self, model) {
        case (.classification, .ngram): MessageClassifier.self
        case (.classification, .charCNN): CharCNNClassifier.self
        case (.ranking, .ngram): MessageRanker.self
        case (.ranking, .charCNN), (.none, _), (.retrieval, _), (.cosine, _): nil
        }
    }

    /// Whether the type trains a text model at all.
    public var isTrained: Bool { trainedModel() != nil }
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

    /// The intrinsic reward these settings name; a trained model's weights start from `seed` plus its offset (as `oni replay fit-reward`'s).
    public func makeReward(seed: UInt64, goalText: String) -> any IntrinsicReward {
        switch type {
        case .none: return NoIntrinsicReward()
        case .retrieval: return RetrievalReward()
        case .cosine: return CosineReward(goalText: goalText, threshold: cosineThreshold)
        case .classification, .ranking:
            func trained<Model: TrainedRewardModel>(_ model: Model.Type) -> any IntrinsicReward {
                TrainedReward(model: Model(seed: seed &+ Model.seedOffset), rule: payRule!)
            }
            guard let model = self.type.trainedModel(textModel) else {
                preconditionFailure("no \(textModel.rawValue) model for \(type.rawValue) (the options refuse this pair)")
            }
            return trained(model)
        }
    }
}
