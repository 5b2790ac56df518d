import Foundation
import OniCore
import OniLearning
import OniNeural
import Testing

/// Batches of several rollouts and updates split across threads.
@Suite struct DataParallelUpdateTests {
    /// A random rollout of `a` with `steps` × `envs` steps, episode ends, rewards and a recurrent state.
    static func rollout(_ a: PolicyArchitecture, steps: Int, envs: Int, seed: UInt64, version: Int64 = 0) -> Rollout {
        var rng = SeededGenerator(seed: seed)
        let rows = (steps + 1) * envs, n = steps * envs
        let observations = PolicyNetworkTests.Observations(a, rows: rows, rng: &rng)
        return Rollout(
            workerID: "w\(seed)", sequence: 0, policyVersion: version, numSteps: steps, numEnvs: envs, envName: "test",
            observations: [
                "chars": Tensor(observations.chars, shape: [steps + 1, envs, a.height, a.width]),
                "status": Tensor(observations.status, shape: [steps + 1, envs, a.statusSize]),
                "message": Tensor(observations.message, shape: [steps + 1, envs, a.messageLength]),
            ],
            actions: (0..<n).map { _ in Int32(rng.below(a.actions)) },
            behaviourLogProbs: (0..<n).map { _ in -Float(rng.below(300)) / 100 - 0.1 },
            rewards: (0..<n).map { _ in Float(rng.below(3)) - 1 }, dones: (0..<n).map { _ in rng.below(5) == 0 ? 1 : 0 }, messages: [],
            messageIndex: [Int32](repeating: -1, count: n), messageEpisodeCount: [Int32](repeating: 0, count: n), episodes: [],
            workerEnvSteps: 0, coreState: (0..<(envs * a.stateSize)).map { _ in Float(rng.below(200)) / 100 - 1 },
            behaviourValues: (0..<n).map { _ in Float(rng.below(200)) / 100 - 1 })
    }

    static func batches(_ a: PolicyArchitecture, count: Int, envs: Int = 5) throws -> [TrainingBatch] {
        try (0..<count).map { try TrainingBatch(rollout: rollout(a, steps: 4, envs: envs, seed: 40 + UInt64($0)), architecture: a) }
    }

    static func weights(_ trainer: APPOTrainer) -> [Float] { trainer.network.parameters.flatMap(\.value) }

    @Test func concatenatedRolloutsSplitBackIntoThemselves() throws {
        let a = PolicyNetworkTests.tiny
        let parts = try Self.batches(a, count: 3)
        let whole = TrainingBatch.concatenating(parts)
        #expect(whole.envs == 15 && whole.steps == 4 && whole.samples == 60)
        for (k, part) in parts.enumerated() {
            let back = whole.columns((k * 5)..<((k + 1) * 5))
            #expect(back.chars == part.chars && back.status == part.status && back.message == part.message)
            #expect(back.actions == part.actions && back.rewards == part.rewards && back.dones == part.dones)
            #expect(back.behaviourLogProbs == part.behaviourLogProbs && back.behaviourValues == part.behaviourValues)
            #expect(back.coreState == part.coreState)
        }
    }

    /// The network's outputs for a concatenated batch are those of each rollout on its own:
    /// the environment columns of a batch never mix.
    @Test func aBatchOfRolloutsIsEachRolloutSideBySide() throws {
        let a = PolicyNetworkTests.tiny
        let parts = try Self.batches(a, count: 2)
        let net = PolicyNetwork<Float>(architecture: a, seed: 2)
        func values(_ b: TrainingBatch) -> [Float] {
            let o = PolicyNetworkTests.Observations(chars: b.chars, status: b.status, message: b.message)
            return o.forward(net, steps: b.steps + 1, envs: b.envs, state: b.coreState, resets: b.resets).values
        }
        let together = values(.concatenating(parts)), apart = parts.map(values)
        for row in 0..<5 {
            for k in 0..<2 {
                for column in 0..<5 {
                    #expect(abs(together[row * 10 + k * 5 + column] - apart[k][row * 5 + column]) < 1e-5)
                }
            }
        }
    }

    @Test(arguments: [1, 2, 3])
    func theSameBatchAndThreadsGiveTheSameWeights(threads: Int) throws {
        let a = PolicyNetworkTests.tiny
        let parts = try Self.batches(a, count: 3)
        let first = APPOTrainer(architecture: a, config: TrainingConfig(), seed: 5, threads: threads)
        let second = APPOTrainer(architecture: a, config: TrainingConfig(), seed: 5, threads: threads)
        for _ in 0..<3 {
            first.update(parts)
            second.update(parts)
        }
        #expect(Self.weights(first) == Self.weights(second))
        #expect(first.version == 3)
    }

    /// Two or three threads compute the update one thread does, up to float rounding: the gradients
    /// (before Adam's per-weight normalisation, which magnifies rounding of tiny gradients) and the weights.
    @Test(arguments: [2, 3])
    func moreThreadsMatchOneThread(threads: Int) throws {
        let a = PolicyNetworkTests.tiny
        var config = TrainingConfig()
        config.valueClip = 0.2  // the clipped value loss, whose old values travel with the shards
        let parts = try Self.batches(a, count: 2)
        let one = APPOTrainer(architecture: a, config: config, seed: 5, threads: 1)
        let many = APPOTrainer(architecture: a, config: config, seed: 5, threads: threads)
        // The gradients: learning rate 0 leaves the weights and shows Adam's input through grad_norm.
        one.optimizer.learningRate = 0
        many.optimizer.learningRate = 0
        let s1 = one.update(parts), s2 = many.update(parts)
        for key in ["learner/grad_norm", "learner/loss_policy", "learner/loss_value", "learner/entropy"] {
            #expect(abs(s1[key]! - s2[key]!) <= 1e-5 * max(1, abs(s1[key]!)), "\(key): \(s1[key]!) vs \(s2[key]!)")
        }
        one.optimizer.learningRate = 1e-3
        many.optimizer.learningRate = 1e-3
        for _ in 0..<3 {
            one.update(parts)
            many.update(parts)
        }
        let w1 = Self.weights(one), w2 = Self.weights(many)
        let largest = zip(w1, w2).map { abs($0 - $1) }.max()!
        #expect(largest < 1e-4, "largest weight difference \(largest)")
        #expect(Self.weights(one) != Self.weights(APPOTrainer(architecture: a, config: config, seed: 5)), "the updates changed nothing")
    }

    /// Split across threads, the gradient is that of the whole batch: every parameter's
    /// gradient against one thread's, for both cores and both value losses.
    @Test(arguments: PolicyArchitecture.Core.allCases, [0.0, 0.2])
    func shardGradientsSumToTheWholeBatchGradient(core: PolicyArchitecture.Core, valueClip: Double) throws {
        let a = PolicyNetworkTests.tiny(core: core)
        var config = TrainingConfig()
        config.valueClip = valueClip
        let parts = try Self.batches(a, count: 2, envs: 3)
        let one = APPOTrainer(architecture: a, config: config, seed: 9, threads: 1).gradients(parts)
        let two = APPOTrainer(architecture: a, config: config, seed: 9, threads: 2).gradients(parts)
        let names = PolicyNetwork<Float>(architecture: a, seed: 9).parameters.map(\.name)
        for (k, (g1, g2)) in zip(one, two).enumerated() {
            for (x, y) in zip(g1, g2) {
                #expect(abs(x - y) <= 1e-5 * max(1, abs(x)), "\(names[k]): \(x) vs \(y)")
            }
            // Every parameter learns something from this batch (embedding rows only for the characters seen).
            #expect(g1.contains { $0 != 0 }, "\(names[k]) got no gradient")
        }
    }

    /// FLOPs per row from the architecture against a count made from the parameters: every
    /// matrix product does 2 operations per weight per output position.
    @Test(arguments: PolicyArchitecture.Core.allCases)
    func flopsFollowTheWeights(core: PolicyArchitecture.Core) {
        var a = PolicyArchitecture(height: 7, width: 13, statusSize: 4, actions: 5, messageLength: 20)
        a.core = core
        let net = PolicyNetwork<Float>(architecture: a, seed: 1)
        var expected = 0
        for p in net.parameters where p.name.contains("weight") {
            let positions: Int
            switch p.name {
            case "conv0.weight", "conv1.weight": positions = a.height * a.width
            case "message.conv0.weight", "message.conv1.weight": positions = a.messageLength
            case "message.embed.weight", "embed.weight": positions = 0  // a lookup, not a product
            default: positions = 1
            }
            expected += 2 * p.count * positions
        }
        #expect(a.forwardFLOPsPerRow == expected, "\(net.parameters.map { "\($0.name) \($0.shape)" })")
        #expect(abs(a.trainingFLOPsPerSample(steps: 32) - 3 * Double(expected) * 33 / 32) < 1)
    }

    /// What a forward did: the architecture's count, with the message encoder's share for the
    /// positions it computed (each distinct message once, as far as the messages reach).
    @Test func performedFLOPsCountTheMessagesComputed() {
        let (length, rows) = (40, 6)
        let a = PolicyArchitecture(height: 7, width: 13, statusSize: 4, actions: 5, messageLength: length)
        let net = PolicyNetwork<Float>(architecture: a, seed: 1)
        let chars = [UInt8](repeating: 46, count: rows * 7 * 13), status = [Int32](repeating: 1, count: rows * 4)
        func forward(_ message: [UInt8]) -> Double {
            chars.withUnsafeBufferPointer { c in
                status.withUnsafeBufferPointer { s in
                    message.withUnsafeBufferPointer { m in
                        _ = net.forward(
                            ObservationRows(chars: c, status: s, message: m), steps: rows, envs: 1,
                            state: [Float](repeating: 0, count: a.stateSize), resets: [UInt8](repeating: 0, count: rows))
                    }
                }
            }
            return net.forwardFLOPs
        }
        // Rows 0 and 1 the same five bytes, the rest empty: two messages over 16 positions,
        // and the all-zero message's 5.
        var message = [UInt8](repeating: 0, count: rows * length)
        for p in 0..<5 { (message[p], message[length + p]) = (65, 65) }
        let rest = Double(rows * (a.forwardFLOPsPerRow - a.messageFLOPs(positions: length)))
        #expect(forward(message) == rest + Double(a.messageFLOPs(positions: 2 * 16 + 5)))
        // Every row a different message reaching the end: the architecture's count.
        for r in 0..<rows { for p in 0..<length { message[r * length + p] = UInt8(1 + r) } }
        #expect(forward(message) == Double(rows * a.forwardFLOPsPerRow))
    }
}
