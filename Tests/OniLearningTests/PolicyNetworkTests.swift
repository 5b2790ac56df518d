import Foundation
import OniCore
import OniLearning
import OniNeural
import Testing

@Suite struct PolicyNetworkTests {
    static var tiny: PolicyArchitecture { tiny(core: .gru) }

    static func tiny(core: PolicyArchitecture.Core) -> PolicyArchitecture {
        var a = PolicyArchitecture(height: 3, width: 4, statusSize: 2, actions: 3, messageLength: 6)
        a.embedding = 2
        a.filters = 2
        a.messageEmbedding = 2
        a.messageFilters = 2
        a.hidden = 5
        a.core = core
        return a
    }

    /// Random observations for `rows` rows of `a`.
    struct Observations {
        var chars: [UInt8], status: [Int32], message: [UInt8]

        init(chars: [UInt8], status: [Int32], message: [UInt8]) {
            (self.chars, self.status, self.message) = (chars, status, message)
        }

        init(_ a: PolicyArchitecture, rows: Int, rng: inout SeededGenerator) {
            chars = (0..<(rows * a.height * a.width)).map { _ in UInt8([46, 64, 35, 62, 200][rng.below(5)]) }
            status = (0..<(rows * a.statusSize)).map { _ in Int32(rng.below(20)) - 5 }
            message = (0..<(rows * a.messageLength)).map { _ in UInt8([0, 0, 89, 111, 117, 255][rng.below(6)]) }
        }

        func forward<S: Scalar>(_ net: PolicyNetwork<S>, steps: Int, envs: Int, state: [S]? = nil, resets: [UInt8]? = nil)
            -> (logits: [S], values: [S], state: [S])
        {
            chars.withUnsafeBufferPointer { c in
                status.withUnsafeBufferPointer { s in
                    message.withUnsafeBufferPointer { m in
                        net.forward(
                            ObservationRows(chars: c, status: s, message: m), steps: steps, envs: envs,
                            state: state ?? [S](repeating: 0, count: envs * net.architecture.stateSize),
                            resets: resets ?? [UInt8](repeating: 0, count: steps * envs))
                    }
                }
            }
        }
    }

    /// The whole network — both embeddings, the map and message convolutions, the max-pool,
    /// the trunk, the GRU through time with an episode boundary, both heads — against finite differences.
    @Test(arguments: PolicyArchitecture.Core.allCases)
    func wholeNetworkGradientsMatchFiniteDifferences(core: PolicyArchitecture.Core) {
        let a = Self.tiny(core: core)
        let net = PolicyNetwork<Double>(architecture: a, seed: 3)
        var rng = SeededGenerator(seed: 4)
        let steps = 3, envs = 2, rows = steps * envs
        let observations = Observations(a, rows: rows, rng: &rng)
        let state = (0..<(envs * a.stateSize)).map { _ in Initialization.gaussian(&rng) * 0.5 }
        let resets: [UInt8] = [0, 0, 0, 1, 0, 0]
        let r1 = (0..<(rows * a.actions)).map { _ in Initialization.gaussian(&rng) }
        let r2 = (0..<rows).map { _ in Initialization.gaussian(&rng) }
        func loss() -> Double {
            let (logits, values, _) = observations.forward(net, steps: steps, envs: envs, state: state, resets: resets)
            return zip(logits, r1).reduce(0) { $0 + $1.0 * $1.1 } + zip(values, r2).reduce(0) { $0 + $1.0 * $1.1 }
        }
        _ = loss()
        net.backward(logitsGradient: r1, valuesGradient: r2)
        let checked = checkAgainstFiniteDifferences(net.parameters, gradients: net.parameters.map(\.gradient), samples: 15, loss: loss)
        #expect(checked > (core == .gru ? 100 : 60))
    }

    /// Acting one step at a time, carrying the state, gives what training computes over the sequence.
    @Test func steppingMatchesTheSequenceForward() {
        let a = Self.tiny
        let net = PolicyNetwork<Double>(architecture: a, seed: 5)
        var rng = SeededGenerator(seed: 6)
        let steps = 4, envs = 2
        let observations = Observations(a, rows: steps * envs, rng: &rng)
        let resets: [UInt8] = [0, 0, 1, 0, 0, 0, 0, 1]
        let whole = observations.forward(net, steps: steps, envs: envs, resets: resets)
        var state = [Double](repeating: 0, count: envs * a.stateSize)
        for t in 0..<steps {
            // The worker clears an env's state itself when its episode ends.
            for b in 0..<envs where resets[t * envs + b] != 0 {
                for j in 0..<a.stateSize { state[b * a.stateSize + j] = 0 }
            }
            var one = observations
            one.chars = Array(observations.chars[(t * envs * a.height * a.width)..<((t + 1) * envs * a.height * a.width)])
            one.status = Array(observations.status[(t * envs * a.statusSize)..<((t + 1) * envs * a.statusSize)])
            one.message = Array(observations.message[(t * envs * a.messageLength)..<((t + 1) * envs * a.messageLength)])
            let step = one.forward(net, steps: 1, envs: envs, state: state)
            state = step.state
            for i in 0..<(envs * a.actions) { #expect(abs(step.logits[i] - whole.logits[t * envs * a.actions + i]) < 1e-12) }
            for i in 0..<envs { #expect(abs(step.values[i] - whole.values[t * envs + i]) < 1e-12) }
        }
        #expect(state == whole.state)
    }

    /// With a crop, the map encoder sees only the window around the agent (status[0], status[1]).
    @Test func egocentricViewSeesOnlyAroundTheAgent() {
        var a = Self.tiny
        (a.height, a.width, a.crop, a.cropCentre) = (6, 9, 3, [0, 1])
        #expect(a.isReasonable && a.signature.hasSuffix("crop3"))
        let net = PolicyNetwork<Double>(architecture: a, seed: 8)
        var rng = SeededGenerator(seed: 9)
        var observations = Observations(a, rows: 1, rng: &rng)
        observations.status = [4, 2]  // column 4, row 2: the window is columns 3...5, rows 1...3
        let before = observations.forward(net, steps: 1, envs: 1)
        observations.chars[5 * 9 + 8] = 99  // far away
        observations.chars[0] = 99
        #expect(observations.forward(net, steps: 1, envs: 1).logits == before.logits)
        observations.chars[1 * 9 + 3] = observations.chars[1 * 9 + 3] == 64 ? 35 : 64  // inside the window
        #expect(observations.forward(net, steps: 1, envs: 1).logits != before.logits)
        // At the map's edge the window is padded with blanks, not wrapped.
        observations.status = [0, 0]
        let corner = observations.chars.withUnsafeBufferPointer { c in
            observations.status.withUnsafeBufferPointer { s in
                PolicyNetwork<Double>.egocentric(ObservationRows(chars: c, status: s, message: nil), rows: 1, a)
            }
        }
        #expect(corner[0] == 32 && corner[1] == 32 && corner[3] == 32 && corner[4] == Int32(observations.chars[0]))
    }

    @Test func weightsRoundTripBetweenNetworks() throws {
        let a = Self.tiny
        let source = PolicyNetwork<Float>(architecture: a, seed: 1)
        let copy = PolicyNetwork<Float>(architecture: a, seed: 2)
        let weights = Dictionary(uniqueKeysWithValues: source.exportWeights().map { ($0.name, ($0.shape, $0.values)) })
        try copy.importWeights(weights)
        var rng = SeededGenerator(seed: 1)
        let observations = Observations(a, rows: 1, rng: &rng)
        let x = observations.forward(source, steps: 1, envs: 1)
        let y = observations.forward(copy, steps: 1, envs: 1)
        #expect(x.logits == y.logits && x.values == y.values && x.state == y.state)
        var broken = weights
        broken["trunk.weight"] = ([1, 1], [0])
        #expect(throws: PolicyError.self) { try copy.importWeights(broken) }
    }

    /// Architectures saved before the message encoder and the core existed still read, as what they were.
    @Test func olderArchitectureJSONReadsAsFeedForward() throws {
        let json = #"{"actions":5,"embedding":8,"filters":16,"height":7,"hidden":256,"statusSize":4,"width":13}"#
        let a = try JSONDecoder().decode(PolicyArchitecture.self, from: Data(json.utf8))
        #expect(a.core == .none && a.messageLength == 0 && a.stateSize == 0)
        let round = try JSONDecoder().decode(PolicyArchitecture.self, from: JSONEncoder().encode(Self.tiny))
        #expect(round == Self.tiny)
    }
}

@Suite struct APPOTrainerTests {
    /// A rollout for the tiny network with the given rewards and behaviour log-probabilities (4 steps).
    static func rollout(rewards: [Float], behaviour: [Float]) -> Rollout {
        let a = PolicyNetworkTests.tiny
        return Rollout(
            workerID: "w", sequence: 0, policyVersion: -1, numSteps: 2, numEnvs: 2, envName: "test",
            observations: [
                "chars": Tensor([UInt8](repeating: 46, count: 3 * 2 * a.height * a.width), shape: [3, 2, a.height, a.width]),
                "status": Tensor([Int32](repeating: 0, count: 3 * 2 * a.statusSize), shape: [3, 2, a.statusSize]),
                "message": Tensor([UInt8](repeating: 65, count: 3 * 2 * a.messageLength), shape: [3, 2, a.messageLength]),
            ],
            actions: [0, 1, 2, 0], behaviourLogProbs: behaviour, rewards: rewards, dones: [0, 0, 0, 1], messages: [],
            messageIndex: [-1, -1, -1, -1], messageEpisodeCount: [0, 0, 0, 0], episodes: [], workerEnvSteps: 0)
    }

    @Test func hostileNumbersNeverReachTheWeights() throws {
        let a = PolicyNetworkTests.tiny
        #expect(throws: TrainingError.self) { try TrainingBatch(rollout: Self.rollout(rewards: [0, .nan, 0, 1], behaviour: [-1, -1, -1, -1]), architecture: a) }
        #expect(throws: TrainingError.self) { try TrainingBatch(rollout: Self.rollout(rewards: [0, 0, 0, 1], behaviour: [-1, -120, -1, -1]), architecture: a) }
        // A recurrent state of another network, or one holding NaN, is refused; none at all means a fresh state.
        var rollout = Self.rollout(rewards: [0, 0, 0, 1], behaviour: [-1, -1, -1, -1])
        rollout.coreState = [Float](repeating: 0, count: 2 * (a.stateSize + 1))
        #expect(throws: TrainingError.self) { try TrainingBatch(rollout: rollout, architecture: a) }
        rollout.coreState = [Float](repeating: .nan, count: 2 * a.stateSize)
        #expect(throws: TrainingError.self) { try TrainingBatch(rollout: rollout, architecture: a) }
        rollout.coreState = []
        #expect(try TrainingBatch(rollout: rollout, architecture: a).coreState == [Float](repeating: 0, count: 2 * a.stateSize))
        // An unlikely but legal action (log μ = −45) is limited by the ratio clamp: a finite, bounded update.
        let trainer = APPOTrainer(architecture: a, config: TrainingConfig(), seed: 1)
        let stats = trainer.update(try TrainingBatch(rollout: Self.rollout(rewards: [0, 0, 0, 1], behaviour: [-1, -45, -1, -1]), architecture: a))
        #expect(stats["learner/grad_norm"].map { $0.isFinite && $0 < 1e4 } == true, "\(stats)")
        #expect(trainer.network.parameters.allSatisfy { $0.value.allSatisfy(\.isFinite) })
    }

    @Test func aNonFiniteGradientIsNotApplied() {
        let w = Parameter<Float>(name: "w", shape: [2], value: [1, 2])
        let adam = Adam(parameters: [w])
        w.gradient = [.infinity, 1]
        #expect(!adam.step().isFinite)
        #expect(w.value == [1, 2] && w.gradient == [0, 0] && adam.steps == 0)
    }

    @Test func samplingNeverPicksAnImpossibleAction() {
        var rng = SeededGenerator(seed: 5)
        // The last action has probability 0; the others share it all.
        let lp = Categorical.logSoftmax([Float(0), 0, -200], actions: 3)
        let picks = Categorical.sample(logProbs: [Float](repeating: 0, count: 0) + Array((0..<20_000).map { _ in lp }.joined()), actions: 3, rng: &rng)
        #expect(!picks.contains(2))
        #expect(Set(picks) == [0, 1])
    }

    /// A one-step bandit: every episode is one step, action 2 pays 1, the
    /// others 0. As in APPO, the data comes from a copy of the policy that
    /// lags the learner by up to three updates (so V-trace's off-policy
    /// correction is exercised); the learned policy must come to prefer action 2.
    @Test func learnsABanditFromLaggingPolicyData() throws {
        let a = PolicyNetworkTests.tiny
        var config = TrainingConfig()
        config.learningRate = 3e-3
        config.entropyCoefficient = 0.001
        let trainer = APPOTrainer(architecture: a, config: config, seed: 7)
        var rng = SeededGenerator(seed: 8)
        let steps = 4, envs = 8, n = steps * envs
        let chars = [UInt8](repeating: 46, count: (steps + 1) * envs * a.height * a.width)
        let status = [Int32](repeating: 0, count: (steps + 1) * envs * a.statusSize)
        let message = [UInt8](repeating: 0, count: (steps + 1) * envs * a.messageLength)
        let actor = PolicyNetwork<Float>(architecture: a, seed: 99)
        func logProbs(_ net: PolicyNetwork<Float>) -> [Float] {
            let one = PolicyNetworkTests.Observations(
                chars: Array(chars[0..<(a.height * a.width)]), status: Array(status[0..<a.statusSize]), message: Array(message[0..<a.messageLength]))
            return Categorical.logSoftmax(one.forward(net, steps: 1, envs: 1).logits, actions: a.actions)
        }
        func probabilityOfAction2() -> Double { Foundation.exp(Double(logProbs(trainer.network)[2])) }
        let before = probabilityOfAction2()
        for update in 0..<150 {
            if update % 3 == 0 {
                try actor.importWeights(Dictionary(uniqueKeysWithValues: trainer.network.exportWeights().map { ($0.name, ($0.shape, $0.values)) }))
            }
            let behaviour = logProbs(actor)
            let actions = (0..<n).map { _ in Int32(Categorical.sample(logProbs: behaviour, actions: a.actions, rng: &rng)[0]) }
            let rollout = Rollout(
                workerID: "w", sequence: 0, policyVersion: -1, numSteps: steps, numEnvs: envs, envName: "bandit",
                observations: [
                    "chars": Tensor(chars, shape: [steps + 1, envs, a.height, a.width]),
                    "status": Tensor(status, shape: [steps + 1, envs, a.statusSize]),
                    "message": Tensor(message, shape: [steps + 1, envs, a.messageLength]),
                ],
                actions: actions, behaviourLogProbs: actions.map { behaviour[Int($0)] },
                rewards: actions.map { $0 == 2 ? 1 : 0 }, dones: [UInt8](repeating: 1, count: n), messages: [],
                messageIndex: [Int32](repeating: -1, count: n), messageEpisodeCount: [Int32](repeating: 0, count: n), episodes: [],
                workerEnvSteps: 0)
            let stats = trainer.update(try TrainingBatch(rollout: rollout, architecture: a))
            #expect(stats["learner/loss_value"]!.isFinite)
        }
        let after = probabilityOfAction2()
        #expect(abs(before - 1.0 / 3) < 0.05)
        #expect(after > 0.9, "P(action 2) went from \(before) to \(after)")
        #expect(trainer.version == 150)
    }
}
