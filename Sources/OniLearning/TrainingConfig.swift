/// APPO hyper-parameters. The `oni-learner` flags map onto these fields.
public struct TrainingConfig: Sendable, Codable, Equatable {
    /// Adam step size.
    public var learningRate = 5e-4
    /// γ.
    public var discount = 0.99
    /// Weight of the entropy bonus (exploration). 0.003 (Sample Factory's default) reached
    /// keyroom's 0.9 where 0.01 kept the policy near uniform (*Results* in the OniRuntime documentation).
    public var entropyCoefficient = 0.003
    /// Weight of the value loss.
    public var valueCoefficient = 0.5
    /// PPO ratio clipping ε.
    public var clip = 0.2
    /// Value clipping (PPO2 / Sample Factory): the value moves at most this far from
    /// the acting policy's value per update; 0 = no clipping.
    public var valueClip = 0.0
    /// Global gradient-norm clipping (0 = none).
    public var maxGradientNorm = 4.0
    /// V-trace truncation of the importance weights.
    public var rhoBar = 1.0
    public var cBar = 1.0
    /// Multiply the composed rewards by this, then clip them to ±`rewardClip` (0 = not clipped).
    public var rewardScale = 1.0
    public var rewardClip = 10.0
    /// Normalise advantages to zero mean and unit variance per batch.
    public var normalizeAdvantages = true

    public init() {}
}
