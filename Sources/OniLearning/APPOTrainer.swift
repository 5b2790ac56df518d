import Foundation
import OniCore
import OniNeural

/// Asynchronous PPO (Sample Factory's APPO): the PPO clipped objective with
/// V-trace targets correcting for the lag between the acting and the learned
/// policy, a value loss and an entropy bonus, one Adam step per batch.
public final class APPOTrainer {
    public let network: PolicyNetwork<Float>
    public let optimizer: Adam<Float>
    public var config: TrainingConfig
    /// Incremented by every update; Params carry it as their version.
    public private(set) var version: Int64 = 0
    /// Updates whose gradient was not finite and were therefore not applied.
    public private(set) var skippedUpdates = 0

    public init(architecture: PolicyArchitecture, config: TrainingConfig, seed: UInt64) {
        network = PolicyNetwork(architecture: architecture, seed: seed)
        self.config = config
        optimizer = Adam(
            parameters: network.parameters, learningRate: Float(config.learningRate),
            maxGradientNorm: config.maxGradientNorm > 0 ? Float(config.maxGradientNorm) : nil)
    }

    /// Sets the version counter (when resuming from a checkpoint).
    public func restoreVersion(_ version: Int64) {
        self.version = version
    }

    /// One update on `batch`; returns namespaced statistics (learner/loss_policy, …).
    @discardableResult
    public func update(_ batch: TrainingBatch) -> [String: Double] {
        let a = network.architecture
        let t = batch.steps, b = batch.envs, n = t * b, rows = (t + 1) * b
        let (logits, values, _) = batch.chars.withUnsafeBufferPointer { chars in
            batch.status.withUnsafeBufferPointer { status in
                batch.message.withUnsafeBufferPointer { message in
                    // Back-propagation through the whole rollout (truncated at its start).
                    network.forward(
                        ObservationRows(chars: chars, status: status, message: message), steps: t + 1, envs: b, state: batch.coreState,
                        resets: batch.resets)
                }
            }
        }
        let logProbs = Categorical.logSoftmax(logits, actions: a.actions)

        // V-trace in Float64 on the detached values.
        let target = (0..<n).map { Double(logProbs[$0 * a.actions + Int(batch.actions[$0])]) }
        // Importance ratios limited to [0.05, 20] (Sample Factory does the same), so one
        // unlikely action cannot dominate an update; the behaviour side is constant anyway.
        let behaviour = (0..<n).map { i in min(max(Double(batch.behaviourLogProbs[i]), target[i] - 3), target[i] + 3) }
        let rewards = batch.rewards.map { r -> Double in
            let scaled = Double(r) * config.rewardScale
            return min(max(scaled, -config.rewardClip), config.rewardClip)
        }
        let discounts = batch.dones.map { $0 != 0 ? 0 : config.discount }
        let v = (0..<n).map { Double(values[$0]) }
        let bootstrap = (n..<rows).map { Double(values[$0]) }
        let vtrace = VTrace.compute(
            targetLogProbs: target, behaviourLogProbs: behaviour, rewards: rewards, discounts: discounts, values: v,
            bootstrap: bootstrap, steps: t, envs: b, rhoBar: config.rhoBar, cBar: config.cBar, policyRhoBar: config.rhoBar)
        var advantages = vtrace.advantages
        if config.normalizeAdvantages && n > 1 {
            let mean = advantages.reduce(0, +) / Double(n)
            let variance = advantages.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
            let scale = 1 / (variance.squareRoot() + 1e-8)
            advantages = advantages.map { ($0 - mean) * scale }
        }

        let (policyLoss, dTarget) = PPOLoss.policy(logProbs: target, behaviourLogProbs: behaviour, advantages: advantages, clip: config.clip)
        let (valueLoss, dValues) =
            config.valueClip > 0 && !batch.behaviourValues.isEmpty
            ? PPOLoss.clippedValue(values: v, oldValues: batch.behaviourValues.map(Double.init), targets: vtrace.values, clip: config.valueClip)
            : PPOLoss.value(values: v, targets: vtrace.values)
        let trainedLogProbs = Array(logProbs[0..<(n * a.actions)])
        let entropies = Categorical.entropy(logProbs: trainedLogProbs, actions: a.actions)
        let entropy = entropies.reduce(0) { $0 + Double($1) } / Double(n)

        // dLoss/dLogProbs: the PPO term on the taken action, minus the entropy bonus on every action.
        var dLogProbs = [Float](repeating: 0, count: rows * a.actions)
        let entropyGradient = Categorical.entropyGradient(logProbs: trainedLogProbs)
        let entropyWeight = Float(config.entropyCoefficient / Double(n))
        for i in 0..<(n * a.actions) { dLogProbs[i] = -entropyWeight * entropyGradient[i] }
        for i in 0..<n { dLogProbs[i * a.actions + Int(batch.actions[i])] += Float(dTarget[i]) }
        let dLogits = Categorical.logSoftmaxBackward(logProbs: logProbs, gradient: dLogProbs, actions: a.actions)
        var dV = [Float](repeating: 0, count: rows)  // bootstrap rows are targets' inputs, not trained
        for i in 0..<n { dV[i] = Float(config.valueCoefficient * dValues[i]) }
        network.backward(logitsGradient: dLogits, valuesGradient: dV)
        let gradientNorm = optimizer.step()
        guard gradientNorm.isFinite else {
            // The optimiser skipped the step; the weights are unchanged and so is the version.
            skippedUpdates += 1
            return ["learner/skipped_updates": Double(skippedUpdates)]
        }
        version += 1

        var ratioSum = 0.0, clipped = 0
        for i in 0..<n {
            let ratio = Foundation.exp(target[i] - behaviour[i])
            ratioSum += ratio
            if abs(ratio - 1) > config.clip { clipped += 1 }
        }
        return [
            "learner/loss_policy": policyLoss, "learner/loss_value": valueLoss, "learner/entropy": entropy,
            "learner/grad_norm": Double(gradientNorm), "learner/ratio_mean": ratioSum / Double(n),
            "learner/clip_fraction": Double(clipped) / Double(n),
            "learner/value_mean": v.reduce(0, +) / Double(n),
            "learner/vtrace_target_mean": vtrace.values.reduce(0, +) / Double(n),
            "learner/skipped_updates": Double(skippedUpdates),
        ]
    }
}
