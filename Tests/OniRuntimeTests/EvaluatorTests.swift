import Foundation
import OniCore
import OniEnvironments
import OniLearning
import OniRuntime
import OniStorage
import Testing

/// A network that always chooses `action`: the policy head's weights zero, its bias large on that action.
func alwaysTaking(_ action: Int, on env: String, core: PolicyArchitecture.Core = .none) throws -> PolicyNetwork<Float> {
    var architecture = PolicyArchitecture(environment: try EnvironmentFactory.make(name: env))!
    architecture.hidden = 16
    architecture.filters = 4
    architecture.embedding = 4
    architecture.core = core
    let network = PolicyNetwork<Float>(architecture: architecture, seed: 3)
    var weights: [String: (shape: [Int], values: [Float])] = [:]
    for w in network.exportWeights() {
        var values = w.values
        if w.name.hasPrefix("policy.") {
            values = [Float](repeating: 0, count: values.count)
            if w.shape.count == 1 { values[action] = 100 }
        }
        weights[w.name] = (w.shape, values)
    }
    try network.importWeights(weights)
    return network
}

/// Where `search` sits in NetHack's default (task) action set.
enum NetHackActionIndex {
    static let search = 22
}

@Suite struct EvaluatorTests {
    /// Every episode's return, length and success equal a plain loop playing the same action from
    /// the same seed — split across threads and batched environments, with a recurrent core.
    @Test(arguments: ["grid:gold", "grid:keyroom"])
    func aFixedPolicyScoresWhatAPlainLoopScores(env: String) throws {
        for action in [1, 4] {
            let network = try alwaysTaking(action, on: env, core: .gru)
            var options = Evaluator.Options(env: env)
            options.episodes = 7
            options.seed = 40
            options.greedy = true
            options.threads = 2
            options.envsPerThread = 3
            let results = try Evaluator(network: network, options: options).run()
            #expect(results.map(\.index) == Array(0..<7))
            for (k, result) in results.enumerated() {
                let game = try EnvironmentFactory.make(name: env)
                try game.reset(seed: 40 + UInt64(k))
                var total = 0.0, length = 0
                var outcome = StepOutcome(reward: 0, done: false)
                while !outcome.done {
                    outcome = try game.step(action)
                    total += Double(outcome.reward)
                    length += 1
                }
                #expect(result.seed == 40 + UInt64(k))
                #expect(result.episodeReturn == total && result.length == length && result.success == outcome.success, "\(env) action \(action) episode \(k)")
            }
        }
    }

    /// NetHack with a tiny network: the game's own figures come back, and the step limit truncates.
    @Test func netHackReportsScoreDepthLevelAndGold() throws {
        let network = try alwaysTaking(NetHackActionIndex.search, on: "nethack:score")
        var options = Evaluator.Options(env: "nethack:score")
        options.episodes = 2
        options.envsPerThread = 2
        options.maxEpisodeSteps = 60
        options.greedy = true
        let results = try Evaluator(network: network, options: options).run()
        #expect(results.count == 2)
        for result in results {
            #expect(Set(result.statistics.keys) == ["score", "depth", "experience_level", "gold"], "\(result.statistics)")
            #expect(result.statistics["depth"] == 1 && result.statistics["experience_level"] == 1)
            #expect(result.truncated && result.length == 60)
        }
        let names = try EnvironmentFactory.make(name: "nethack:score").actionNames
        #expect(names[NetHackActionIndex.search] == "search" && names.contains("north") && names.contains("kick"))
    }

    @Test func theSummaryIsTheMeanWithItsStandardError() {
        let results = [1.0, 2.0, 4.0, 5.0].enumerated().map { k, r in
            EpisodeResult(
                index: k, seed: UInt64(k), episodeReturn: r, length: 10 * (k + 1), success: r > 3, truncated: k == 0,
                statistics: ["score": Double(k)], messages: ["You see here a key.": 1, "Hello": k])
        }
        let summary = EvaluationSummary(results)
        #expect(summary.meanReturn == 3 && summary.successRate == 0.5 && summary.meanLength == 25 && summary.truncated == 1)
        // Sample variance 10/3, standard error √(10/3 / 4).
        #expect(abs(summary.standardErrorReturn - (10.0 / 3 / 4).squareRoot()) < 1e-12)
        #expect(summary.statistics["score"] == EvaluationSummary.Mean(mean: 1.5, standardError: (5.0 / 3 / 4).squareRoot()))
        #expect(summary.topMessages.first == EvaluationSummary.MessageCount(message: "Hello", count: 6))
        #expect(summary.table().contains("score") && summary.table().contains("truncated   1 of 4"))
    }

    @Test func aNetworkForAnotherEnvironmentIsRefusedNamingBoth() throws {
        let network = try alwaysTaking(0, on: "grid:keyroom")
        #expect {
            try Evaluator(network: network, options: Evaluator.Options(env: "nethack:score"))
        } throws: { "\($0)".contains("does not fit nethack:score") }
    }

    @Test func milestonesAreKeptAndListedInOrder() throws {
        let run = URL(fileURLWithPath: NSTemporaryDirectory() + "oni-milestones-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: run) }
        let trainer = APPOTrainer(architecture: try alwaysTaking(0, on: "grid:keyroom").architecture, config: TrainingConfig(), seed: 1)
        let store = CheckpointStore(runDirectory: run)
        for steps: UInt64 in [50_000, 100_000, 150_000] {
            try store.save(trainer, envSteps: steps, env: "grid:keyroom")
            try store.keepMilestone(envSteps: steps)
        }
        // Rotation after the milestones leaves them whole.
        try store.save(trainer, envSteps: 160_000, env: "grid:keyroom")
        #expect(store.milestones().map(\.envSteps) == [50_000, 100_000, 150_000])
        #expect(store.milestones().first?.url.lastPathComponent == "step-000050000.safetensors")
        let loaded = try CheckpointStore.loadPolicy(from: store.milestones()[1].url)
        #expect(loaded.metadata.envSteps == 100_000 && loaded.metadata.env == "grid:keyroom")
    }

    @Test func evaluationsAreStoredAndTheViewOrdersThemBySteps() throws {
        let path = NSTemporaryDirectory() + "oni-evaluations-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try RunStore(path: path)
        for (steps, mean) in [(200_000 as UInt64, 0.5), (100_000, 0.25)] {
            try store.insertEvaluation(
                EvaluationRecord(
                    checkpoint: "c", policyVersion: 3, trainedEnvSteps: steps, env: "nethack:score", episodes: 4, greedy: false, seed: 1,
                    meanReturn: mean, standardErrorReturn: 0.1, successRate: 0, meanLength: 9, statistics: ["score": mean * 100, "depth": 1],
                    report: "{}"))
        }
        #expect(try store.evaluations().map(\.trainedEnvSteps) == [200_000, 100_000])
        let rows = try store.database.prepare("SELECT trained_env_steps, mean_score FROM evaluation_curve")
        var curve: [(Int64, Double)] = []
        while try rows.step() { curve.append((rows.int(0), rows.double(1))) }
        #expect(curve.map(\.0) == [100_000, 200_000] && curve.map(\.1) == [25, 50])
        #expect(try StoreCheck.run(store).isClean)
    }
}
