import Foundation
import OniCore
import OniNeural

/// Asynchronous PPO (Sample Factory's APPO): the PPO clipped objective with
/// V-trace targets correcting for the lag between the acting and the learned
/// policy, a value loss and an entropy bonus, one Adam step per batch.
///
/// Data-parallel over `threads`: the batch's environment columns are split
/// into at most `threads` shards, each run forward and backward on its own
/// replica of the network at once; the losses are taken over the whole batch
/// (advantages normalised over all of it), then one Adam step, itself spread
/// over the threads parameter by parameter, each parameter's replica gradients
/// summed in shard order into the first just before it is stepped. The same batch
/// and the same `threads` give bit-identical weights; different `threads`
/// differ only by float rounding.
public final class APPOTrainer {
    /// The network that is trained (replica 0); its weights are the policy.
    public let network: PolicyNetwork<Float>
    public let optimizer: Adam<Float>
    public var config: TrainingConfig
    /// Threads an update may use.
    public let threads: Int
    /// Incremented by every update; Params carry it as their version.
    public private(set) var version: Int64 = 0
    /// Updates whose gradient was not finite and were therefore not applied.
    public private(set) var skippedUpdates = 0
    /// Where the last update's time went.
    public private(set) var lastTiming = UpdateTiming()
    /// Operations the last update did: forward and backward (twice the forward) of every shard.
    public private(set) var lastUpdateFLOPs = 0.0
    /// Replicas 1… (replica 0 is `network`); they take its weights before every update.
    private let replicas: [PolicyNetwork<Float>]
    /// `network.parameters` and each replica's, in the same order (the optimiser's).
    private let parameters: [Parameter<Float>]
    private let replicaParameters: [[Parameter<Float>]]

    public init(architecture: PolicyArchitecture, config: TrainingConfig, seed: UInt64, threads: Int = 1) {
        precondition(threads >= 1, "an update needs at least one thread")
        network = PolicyNetwork(architecture: architecture, seed: seed)
        self.config = config
        self.threads = threads
        replicas = (1..<threads).map { _ in PolicyNetwork(architecture: architecture, seed: seed) }
        parameters = network.parameters
        replicaParameters = replicas.map(\.parameters)
        optimizer = Adam(
            parameters: parameters, learningRate: Float(config.learningRate),
            maxGradientNorm: config.maxGradientNorm > 0 ? Float(config.maxGradientNorm) : nil)
    }

    /// Sets the version counter (when resuming from a checkpoint).
    public func restoreVersion(_ version: Int64) {
        self.version = version
    }

    /// Seconds spent in each phase of an update.
    public struct UpdateTiming: Sendable, Equatable {
        /// `step` includes summing the replicas' gradients, done on the threads that step the parameters.
        public var forward = 0.0, loss = 0.0, backward = 0.0, step = 0.0
        public var total: Double { forward + loss + backward + step }
        public init() {}
        /// Adds another update's phases to these (totals over several updates).
        public mutating func add(_ other: UpdateTiming) {
            forward += other.forward; loss += other.loss; backward += other.backward; step += other.step
        }
    }

    /// One update on one rollout's batch.
    @discardableResult
    public func update(_ batch: TrainingBatch) -> [String: Double] { update([batch]) }

    /// One update on several rollouts of the same length, trained as one batch; returns
    /// namespaced statistics (learner/loss_policy, …).
    @discardableResult
    public func update(_ batches: [TrainingBatch]) -> [String: Double] {
        var clock = PhaseClock()
        let pass = accumulateGradients(batches, clock: &clock)
        // The replicas' gradients are summed into each parameter on the thread that steps it.
        let gradientNorm = optimizer.step(threads: pass.shards) { self.sumReplicaGradients(into: $0, shards: pass.shards) }
        clock.lap(\.step)
        lastTiming = clock.timing
        guard gradientNorm.isFinite else {
            // The optimiser skipped the step; the weights are unchanged and so is the version.
            skippedUpdates += 1
            return ["learner/skipped_updates": Double(skippedUpdates)]
        }
        version += 1
        var stats = pass.stats
        stats["learner/grad_norm"] = Double(gradientNorm)
        stats["learner/skipped_updates"] = Double(skippedUpdates)
        return stats
    }

    /// The gradient of the APPO loss on `batches` for every parameter (in `network.parameters`
    /// order), without changing the weights: what an update hands to Adam.
    public func gradients(_ batches: [TrainingBatch]) -> [[Float]] {
        var clock = PhaseClock()
        let pass = accumulateGradients(batches, clock: &clock)
        for i in parameters.indices { sumReplicaGradients(into: i, shards: pass.shards) }
        defer { for p in parameters { p.zeroGradient() } }
        return parameters.map(\.gradient)
    }

    /// Adds replicas 1…`shards`−1's gradients of parameter `i` to `network`'s, in shard order
    /// (the same batch gives the same weights), and zeroes theirs.
    private func sumReplicaGradients(into i: Int, shards: Int) {
        for replica in replicaParameters[..<(shards - 1)] {
            parameters[i].gradient.withUnsafeMutableBufferPointer { g in
                replica[i].gradient.withUnsafeMutableBufferPointer { h in
                    guard let g = g.baseAddress, let h = h.baseAddress else { return }
                    Self.addAndZero(h, into: g, count: replica[i].count)
                }
            }
        }
    }

    /// g += h, h = 0, eight elements at a time (the pointers never overlap: two replicas' arrays).
    @inline(__always)
    private static func addAndZero(_ h: UnsafeMutablePointer<Float>, into g: UnsafeMutablePointer<Float>, count: Int) {
        let (rg, rh) = (UnsafeMutableRawPointer(g), UnsafeMutableRawPointer(h))
        var j = 0
        while j + 8 <= count {
            let at = j * MemoryLayout<Float>.stride
            let sum = rg.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self) + rh.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
            rg.storeBytes(of: sum, toByteOffset: at, as: SIMD8<Float>.self)
            rh.storeBytes(of: SIMD8<Float>(), toByteOffset: at, as: SIMD8<Float>.self)
            j += 8
        }
        while j < count {
            g[j] += h[j]
            h[j] = 0
            j += 1
        }
    }

    /// Forward, losses and backward of the whole batch, each shard's gradient left in its
    /// replica (`sumReplicaGradients` adds them up).
    private func accumulateGradients(_ batches: [TrainingBatch], clock: inout PhaseClock) -> (stats: [String: Double], samples: Int, shards: Int) {
        let whole = TrainingBatch.concatenating(batches)
        let shardCount = min(threads, whole.envs)
        let shards = (0..<shardCount).map { k in whole.columns((k * whole.envs / shardCount)..<((k + 1) * whole.envs / shardCount)) }
        let networks = [network] + replicas

        // Forward, V-trace and entropy per shard, at once.
        var passes = [ShardPass?](repeating: nil, count: shardCount)
        let config = self.config
        passes.withUnsafeMutableBufferPointer { out in
            let out = UncheckedSendable(out)
            Parallel.forEach(shardCount) { k in
                // Each replica takes the weights on its own thread.
                if k > 0 { networks[k].copyWeights(from: networks[0]) }
                out.value[k] = ShardPass(batch: shards[k], network: networks[k], config: config)
            }
        }
        let work = passes.map { $0! }
        lastUpdateFLOPs = 3 * networks[..<shardCount].reduce(0) { $0 + $1.forwardFLOPs }
        clock.lap(\.forward)

        // The losses over the whole batch, shard after shard.
        let n = work.reduce(0) { $0 + $1.samples }
        let target = work.flatMap(\.target), behaviour = work.flatMap(\.behaviour), v = work.flatMap(\.values)
        let vtraceValues = work.flatMap(\.vtrace.values)
        var advantages = work.flatMap(\.vtrace.advantages)
        if config.normalizeAdvantages && n > 1 {
            let mean = advantages.reduce(0, +) / Double(n)
            let variance = advantages.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
            let scale = 1 / (variance.squareRoot() + 1e-8)
            for i in advantages.indices { advantages[i] = (advantages[i] - mean) * scale }
        }
        let (policyLoss, dTarget) = PPOLoss.policy(logProbs: target, behaviourLogProbs: behaviour, advantages: advantages, clip: config.clip)
        let oldValues = work.allSatisfy { !$0.batch.behaviourValues.isEmpty } ? work.flatMap { $0.batch.behaviourValues.map(Double.init) } : []
        let (valueLoss, dValues) =
            config.valueClip > 0 && !oldValues.isEmpty
            ? PPOLoss.clippedValue(values: v, oldValues: oldValues, targets: vtraceValues, clip: config.valueClip)
            : PPOLoss.value(values: v, targets: vtraceValues)
        let entropy = work.reduce(0) { $0 + $1.entropySum } / Double(n)
        clock.lap(\.loss)

        // Backward per shard into its replica's gradients, at once.
        let entropyWeight = Float(config.entropyCoefficient / Double(n))
        let offsets = work.indices.map { k in work[..<k].reduce(0) { $0 + $1.samples } }
        Parallel.forEach(shardCount) { k in
            let range = offsets[k]..<(offsets[k] + work[k].samples)
            let (dLogits, dV) = work[k].outputGradients(
                actions: networks[k].architecture.actions, dTarget: dTarget[range], dValues: dValues[range], entropyWeight: entropyWeight,
                valueCoefficient: config.valueCoefficient)
            networks[k].backward(logitsGradient: dLogits, valuesGradient: dV)
        }
        clock.lap(\.backward)

        var ratioSum = 0.0, clipped = 0
        for i in 0..<n {
            let ratio = Foundation.exp(target[i] - behaviour[i])
            ratioSum += ratio
            if abs(ratio - 1) > config.clip { clipped += 1 }
        }
        let stats = [
            "learner/loss_policy": policyLoss, "learner/loss_value": valueLoss, "learner/entropy": entropy,
            "learner/ratio_mean": ratioSum / Double(n), "learner/clip_fraction": Double(clipped) / Double(n),
            "learner/value_mean": v.reduce(0, +) / Double(n), "learner/vtrace_target_mean": vtraceValues.reduce(0, +) / Double(n),
            "learner/batch_samples": Double(n),
        ]
        return (stats, n, shardCount)
    }

    /// Times the phases of one update.
    private struct PhaseClock {
        var timing = UpdateTiming()
        var last = ContinuousClock.now

        mutating func lap(_ phase: WritableKeyPath<UpdateTiming, Double>) {
            let now = ContinuousClock.now
            let d = now - last
            timing[keyPath: phase] += Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            last = now
        }
    }
}

/// One shard's forward pass and what its backward pass needs.
private struct ShardPass {
    let batch: TrainingBatch
    let logProbs: [Float]
    /// log π(aₜ), the behaviour's log μ(aₜ) (limited to log π ± 3) and V(xₜ), [T, Bₖ].
    let target: [Double], behaviour: [Double], values: [Double]
    let vtrace: VTrace.Output
    let entropySum: Double
    let entropyGradient: [Float]
    var samples: Int { batch.samples }

    init(batch: TrainingBatch, network: PolicyNetwork<Float>, config: TrainingConfig) {
        self.batch = batch
        let actions = network.architecture.actions
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
        // V-trace in Float64 on the detached values.
        let logProbs = Categorical.logSoftmax(logits, actions: actions)
        self.logProbs = logProbs
        let target = (0..<n).map { Double(logProbs[$0 * actions + Int(batch.actions[$0])]) }
        // Importance ratios limited to [0.05, 20] (Sample Factory does the same), so one
        // unlikely action cannot dominate an update; the behaviour side is constant anyway.
        let behaviour = (0..<n).map { i in min(max(Double(batch.behaviourLogProbs[i]), target[i] - 3), target[i] + 3) }
        let rewards = batch.rewards.map { r -> Double in
            let scaled = Double(r) * config.rewardScale
            return config.rewardClip > 0 ? min(max(scaled, -config.rewardClip), config.rewardClip) : scaled
        }
        let discounts = batch.dones.map { $0 != 0 ? 0 : config.discount }
        let v = (0..<n).map { Double(values[$0]) }
        let bootstrap = (n..<rows).map { Double(values[$0]) }
        vtrace = VTrace.compute(
            targetLogProbs: target, behaviourLogProbs: behaviour, rewards: rewards, discounts: discounts, values: v,
            bootstrap: bootstrap, steps: t, envs: b, rhoBar: config.rhoBar, cBar: config.cBar, policyRhoBar: config.rhoBar)
        let trained = Array(logProbs[0..<(n * actions)])
        entropySum = Categorical.entropy(logProbs: trained, actions: actions).reduce(0) { $0 + Double($1) }
        entropyGradient = Categorical.entropyGradient(logProbs: trained)
        self.target = target
        self.behaviour = behaviour
        self.values = v
    }

    /// dLoss/dLogits (through dLoss/dLogProbs: the PPO term on the taken action, minus the entropy
    /// bonus on every action) and dLoss/dV, for the network's backward pass.
    func outputGradients(actions: Int, dTarget: ArraySlice<Double>, dValues: ArraySlice<Double>, entropyWeight: Float, valueCoefficient: Double)
        -> (logits: [Float], values: [Float])
    {
        let n = samples, rows = (batch.steps + 1) * batch.envs
        var dLogProbs = [Float](repeating: 0, count: rows * actions)
        for i in 0..<(n * actions) { dLogProbs[i] = -entropyWeight * entropyGradient[i] }
        let first = dTarget.startIndex, firstValue = dValues.startIndex
        for i in 0..<n { dLogProbs[i * actions + Int(batch.actions[i])] += Float(dTarget[first + i]) }
        let dLogits = Categorical.logSoftmaxBackward(logProbs: logProbs, gradient: dLogProbs, actions: actions)
        var dV = [Float](repeating: 0, count: rows)  // bootstrap rows are targets' inputs, not trained
        for i in 0..<n { dV[i] = Float(valueCoefficient * dValues[firstValue + i]) }
        return (dLogits, dV)
    }
}
