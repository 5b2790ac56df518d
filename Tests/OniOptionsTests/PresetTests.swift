import ArgumentParser
import Foundation
import OniOptions
import OniRuntime
import Testing

/// `--preset oni`: ONI's values per task family, under the config file and the command line.
@Suite struct PresetTests {
    func run(_ arguments: [String]) throws -> RunSettings {
        try RunSettings.parse(OptionSources.expanded(arguments, accepting: OptionValues.names(of: RunSettings.self)))
    }

    @Test func oniOnScoreAndOnItsSparseTasks() throws {
        let score = try run(["--preset", "oni", "--env", "nethack:score"])
        #expect(score.environment.env == "nethack:score,rules=oni,actions=oni")
        #expect(score.learner.extrinsicRewardCoeff == 0.1 && score.learner.llmRewardCoeff == 0.4 && score.learner.extrinsicRewardClip == 10)
        #expect(score.learner.rewardClip == 0 && score.learner.rankingThreshold == -0.5 && score.learner.rankingPayment == .zscore)
        #expect(score.learner.learningRate == 1e-4 && score.learner.clip == 0.1 && score.learner.valueClip == 1 && score.learner.entropyCoefficient == 0.003)
        #expect(score.learner.batchSize == 1024 && score.learner.hidden == 512 && score.learner.llmBatchSize == 100 && score.learner.pairSampling == .frequency)
        #expect(score.worker.messageTiming == .before && score.worker.emptyMessages == .count && score.worker.rolloutLength == 32)

        let stairs = try run(["--env", "nethack:staircase,depth=3", "--preset", "oni"])
        #expect(stairs.environment.env == "nethack:staircase,depth=3,rules=oni,actions=oni" && stairs.learner.extrinsicRewardCoeff == 10)
        // What the name says about rules or actions stays; tasks ONI has no version of keep their name.
        #expect(try run(["--preset", "oni", "--env", "nethack:score,actions=task"]).environment.env == "nethack:score,actions=task,rules=oni")
        let vault = try run(["--preset", "oni", "--env", "grid:vault"])
        #expect(vault.environment.env == "grid:vault" && vault.learner.extrinsicRewardCoeff == 10 && vault.learner.rewardModel == .ngram)
        // ONI's classifier is a character CNN.
        #expect(try run(["--preset", "oni", "--reward", "classification"]).learner.rewardModel == .charCNN)
    }

    /// The command line and a config file win over the preset; without --preset nothing changes.
    @Test func explicitValuesWin() throws {
        let given = try run(["--preset", "oni", "--env", "nethack:score", "--llm-reward-coeff", "0.2", "--message-timing", "after"])
        #expect(given.learner.llmRewardCoeff == 0.2 && given.worker.messageTiming == .after && given.learner.extrinsicRewardCoeff == 0.1)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("preset-\(UUID().uuidString).yaml").path
        try Data("preset: oni\nenv: nethack:oracle\nlearning-rate: 0.0003\n".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let configured = try run(["--config", file])
        #expect(configured.learner.learningRate == 0.0003 && configured.learner.extrinsicRewardCoeff == 10)
        #expect(configured.environment.env == "nethack:oracle,rules=oni,actions=oni")
        let (plain, defaults) = (try run(["--env", "nethack:score"]), try run([]))
        #expect(plain.learner.llmRewardCoeff == defaults.learner.llmRewardCoeff && plain.environment.env == "nethack:score")
    }

    /// Each role takes the preset's values for its own options only; an unknown preset is refused.
    @Test func rolesTakeTheirPartAndUnknownPresetsAreRefused() throws {
        let worker = try WorkerProcess.parse(OptionSources.expanded(["--preset", "oni", "--env", "nethack:score"], accepting: OptionValues.names(of: WorkerProcess.self)))
        #expect(worker.worker.messageTiming == .before && worker.environment.env == "nethack:score,rules=oni,actions=oni")
        let learner = try LearnerProcess.parse(OptionSources.expanded(["--preset", "oni"], accepting: OptionValues.names(of: LearnerProcess.self)))
        #expect(learner.learner.extrinsicRewardCoeff == 10 && learner.learner.core == .gru)
        #expect(throws: ValidationError.self) { try OptionSources.expanded(["--preset", "motif"], accepting: OptionValues.names(of: RunSettings.self)) }
        #expect(throws: ValidationError.self) { try OptionSources.expanded(["--resume", "--preset", "oni"], accepting: OptionValues.names(of: RunSettings.self)) }
        // Asking for one-token labels keeps Oni's prompt (ONI's needs tagged answers) instead of a refusal.
        let logprob = try run(["--preset", "oni", "--label-mode", "logprob"])
        #expect(logprob.annotator.prompt == .default && logprob.learner.llmRewardCoeff == 0.4)
        #expect(try run(["--preset", "oni"]).annotator.prompt == .oni)
        // Every value the preset sets names an option some role takes.
        for setting in Preset.oni.settings(env: "nethack:score", reward: "classification") { #expect(OniCommandOptions.allNames.contains(setting.option), "\(setting.option)") }
    }
}
