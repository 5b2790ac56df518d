import ArgumentParser
import Foundation
import OniAnnotation
import OniLearning
import OniEnvironments
@testable import OniOptions
import OniRuntime
import Testing

/// What `oni-learner` parses (its command's option groups), to check what `oni run` hands it.
struct LearnerProcess: ParsableArguments {
    @OptionGroup var wiring: LearnerWiring
    @OptionGroup var environment: EnvironmentOptions
    @OptionGroup var learner: LearnerOptions
    @OptionGroup var role: RoleOptions

    /// What `oni-learner` runs with (the mapping its command uses).
    var config: LearnerConfig { LearnerConfig(wiring: wiring, environment: environment, learner: learner, role: role) }
}

struct WorkerProcess: ParsableArguments {
    @OptionGroup var wiring: WorkerWiring
    @OptionGroup var environment: EnvironmentOptions
    @OptionGroup var worker: WorkerOptions
    @OptionGroup var role: RoleOptions
}

struct AnnotatorProcess: ParsableArguments {
    @OptionGroup var wiring: AnnotatorWiring
    @OptionGroup var annotator: AnnotatorOptions
    @OptionGroup var role: RoleOptions
}

/// Every learner option set to something other than its default (flags flipped, numbers moved,
/// choices changed), derived from the declarations so that an option added later is covered too.
func everyLearnerOptionChanged() -> [String] {
    let choices = [
        "core": "gru", "reward": "classification", "count-scope": "global", "goal": "gold", "store-max-mb": "512", "ranking-payment": "zscore",
        "pair-sampling": "frequency", "prompt": "oni", "reward-model": "char-cnn", "empty-messages": "count", "message-timing": "before",
    ]
    var arguments: [String] = []
    for option in OptionValues.of(OptionValues.defaults(of: LearnerOptions.self)) {
        switch option.value {
        case .flag(let on): arguments.append(on ? "--no-\(option.name)" : "--\(option.name)")
        case .number(let text):
            if let integer = Int(text) {
                arguments += ["--\(option.name)", "\(integer + 1)"]
            } else {
                let double = Double(text)!
                arguments += ["--\(option.name)", "\(double > 0 ? double * 0.5 : 0.25)"]
            }
        case .text:
            arguments += ["--\(option.name)", choices[option.name] ?? "changed-\(option.name)"]
        case .list(let items):
            for item in items + ["changed"] { arguments += ["--\(option.name)", item] }
        }
    }
    // Options without a default value.
    return arguments + ["--max-env-steps", "12345", "--reward-init", "/tmp/weights.safetensors"]
}

@Suite struct OptionsTests {
    @Test func llmThreadsAutoTakesTheCoresTheOtherRolesLeave() throws {
        #expect(LLMThreadsSetting.automatic.threads(cores: 32, busy: 2 * 4 + 2) == 22)
        #expect(LLMThreadsSetting.automatic.threads(cores: 2, busy: 3) == 1, "at least one")
        #expect(LLMThreadsSetting(argument: "3")?.threads(cores: 32, busy: 0) == 3)
        #expect(LLMThreadsSetting(argument: "0") == nil && LLMThreadsSetting(argument: "many") == nil)
        #expect(throws: (any Error).self) { try RunSettings.parse(["--llm-threads", "0"]) }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let auto = try RunSettings.parse(["--workers", "1", "--learner-threads", "1"]).plan(runDirectory: "/tmp/run", environment: [:])
        #expect(auto.llmThreads == max(1, cores - 2))
        let fixed = try RunSettings.parse(["--llm-threads", "5"]).plan(runDirectory: "/tmp/run", environment: [:])
        #expect(fixed.llmThreads == 5)
    }

    /// Without --logprob-threshold each goal's prompt takes the threshold chosen for it on the
    /// labelled set's development part; given, it is the one for every goal.
    @Test func theLogprobThresholdIsTheGoalsUnlessGiven() throws {
        var config = AnnotatorConfig(llm: LLMServerConfig(baseURL: URL(string: "http://unused.invalid/v1")!))
        try AnnotatorProcess.parse(["--bind", "tcp://127.0.0.1:5557"]).annotator.apply(to: &config)
        #expect(config.logprobThreshold == nil && config.labelUnit == LabelUnit.sentence)
        #expect(AnnotationPrompt.calibratedThreshold(for: .default) == 0.85 && AnnotationPrompt.calibratedThreshold(for: .combat) == 0.67)
        #expect(AnnotationPrompt.calibratedThreshold(for: .gold) == 0.73 && AnnotationPrompt.calibratedThreshold(for: .custom("Pray.")) == 0.85)
        // The prompt takes the goal's when none is given (what the annotator, label-eval and replay pass on).
        #expect(AnnotationPrompt(goal: .combat, mode: .logprob, threshold: nil).threshold == 0.67)
        #expect(AnnotationPrompt(goal: .default, mode: .logprob, threshold: nil).threshold == 0.85)
        #expect(AnnotationPrompt(goal: .gold, mode: .logprob, threshold: 0.6).threshold == 0.6)
        try AnnotatorProcess.parse(["--bind", "tcp://127.0.0.1:5557", "--logprob-threshold", "0.6", "--label-unit", "message"]).annotator.apply(to: &config)
        #expect(config.logprobThreshold == 0.6 && config.labelUnit == LabelUnit.message)
        #expect(throws: (any Error).self) { try AnnotatorProcess.parse(["--bind", "tcp://127.0.0.1:5557", "--logprob-threshold", "1"]) }
    }

    @Test func everyLearnerOptionGivenToOniRunReachesTheLearner() throws {
        let changed = everyLearnerOptionChanged()
        let settings = try RunSettings.parse(changed + ["--env", "grid:vault", "--seed", "7", "--max-frame-bytes", "100000"])
        #expect(OptionValues.of(settings.learner).count == OptionValues.names(of: LearnerOptions.self).count)
        let plan = try settings.plan(runDirectory: "/tmp/run", environment: [:])
        let learner = try LearnerProcess.parse(plan.learnerArguments(annotator: nil))
        #expect(OptionValues.of(learner.learner) == OptionValues.of(settings.learner))
        var expected = LearnerConfig()
        expected.runDirectory = "/tmp/run"
        (expected.experienceBind, expected.paramsBind, expected.metricsBind, expected.controlBind) = plan.learnerBinds
        expected.env = "grid:vault"
        expected.seed = 7
        expected.maxFrameBytes = 100_000
        settings.learner.apply(to: &expected, annotating: false)
        #expect(learner.config == expected)
        #expect(learner.config != LearnerProcess.parseOrExit([]).config)
        #expect(learner.wiring.runDir == "/tmp/run")
    }

    @Test func everyLearnerOptionFromAConfigFileReachesTheLearner() throws {
        let changed = everyLearnerOptionChanged()
        // The same values as a JSON object: booleans as JSON booleans, numbers as numbers.
        var object: [String: Any] = [:]
        var index = 0
        while index < changed.count {
            let name = String(changed[index].dropFirst(2))
            if index + 1 < changed.count, !changed[index + 1].hasPrefix("--") {
                object[name] = Double(changed[index + 1]).map { $0 as Any } ?? changed[index + 1]
                index += 2
            } else {
                object[name.hasPrefix("no-") ? String(name.dropFirst(3)) : name] = !name.hasPrefix("no-")
                index += 1
            }
        }
        let file = try temporaryFile("config.json", JSONSerialization.data(withJSONObject: object))
        let fromFile = try RunSettings.parse(OptionSources.expanded(["--config", file], accepting: OptionValues.names(of: RunSettings.self)))
        let fromFlags = try RunSettings.parse(changed)
        #expect(OptionValues.of(fromFile) == OptionValues.of(fromFlags))
        let learner = try LearnerProcess.parse(try fromFile.plan(runDirectory: "/tmp/run", environment: [:]).learnerArguments(annotator: nil))
        #expect(OptionValues.of(learner.learner) == OptionValues.of(fromFlags.learner))
    }

    @Test func theSavedConfigurationIsAcceptedAsItIsAndGivesTheSameRun() throws {
        let settings = try RunSettings.parse(
            everyLearnerOptionChanged() + [
                "--workers", "3", "--envs-per-worker", "4", "--worker-threads", "2", "--llm", "none", "--label-mode", "logprob",
                "--annotation-cache", "/tmp/labels.sqlite", "--no-cache", "--log-level", "debug", "--base-port", "6000",
            ])
        let data = try settings.configurationFile(runDirectory: "/tmp/run")
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect((object["made_by"] as? [String: String])?["oni_version"] == BuildInfo.version)
        let options = object["options"] as! [String: Any]
        #expect(options["train"] as? Bool == false && options["cache"] as? Bool == false)
        #expect(options["resume"] == nil && options["config"] == nil)
        let file = try temporaryFile("config.json", data)
        let again = try RunSettings.parse(OptionSources.expanded(["--config", file], accepting: OptionValues.names(of: RunSettings.self)))
        #expect(OptionValues.of(again).filter { $0.name != "run-dir" } == OptionValues.of(settings).filter { $0.name != "run-dir" })
        #expect(again.run.runDir == "/tmp/run")
        // And each role, given it, takes its own options and leaves the others'.
        let accepted = OptionValues.names(of: AnnotatorProcess.self)
        let annotator = try AnnotatorProcess.parse(OptionSources.expanded(["--config", file], accepting: accepted))
        #expect(annotator.annotator.annotationCache == "/tmp/labels.sqlite" && !annotator.annotator.cache && annotator.annotator.labelMode == .logprob)
        let worker = try WorkerProcess.parse(OptionSources.expanded(["--config", file, "--envs-per-worker", "6"], accepting: OptionValues.names(of: WorkerProcess.self)))
        #expect(worker.worker.envsPerWorker == 6 && worker.worker.workerThreads == 2 && worker.role.logLevel == .debug)
    }

    @Test func yamlFilesAndTheCommandLineWins() throws {
        let file = try temporaryFile("run.yaml", Data("env: grid:rats\nworkers: 4\ntrain: false\nlearning-rate: 0.001\nllm_reward_coeff: 0.4\n".utf8))
        let settings = try RunSettings.parse(
            OptionSources.expanded(["--workers", "5", "--config", file, "--train"], accepting: OptionValues.names(of: RunSettings.self)))
        #expect(settings.environment.env == "grid:rats" && settings.run.workers == 5 && settings.learner.train)
        #expect(settings.learner.learningRate == 0.001 && settings.learner.llmRewardCoeff == 0.4)
    }

    @Test func aTypoInAConfigFileIsAnErrorNamingIt() throws {
        let file = try temporaryFile("bad.json", Data(#"{"learning-rat": 0.1}"#.utf8))
        #expect {
            try OptionSources.expanded(["--config", file], accepting: OptionValues.names(of: RunSettings.self))
        } throws: { "\($0)".contains("learning-rat") }
        let notJSON = try temporaryFile("bad2.json", Data("[1, 2]".utf8))
        #expect(throws: ValidationError.self) { try OptionSources.expanded(["--config", notJSON], accepting: []) }
    }

    @Test func oldSpellingsAndSnakeCaseMeanOnesOwn() throws {
        let arguments = OptionAliases.canonical([
            "--num-envs", "4", "--llm_batch_size=100", "--examples", "x.json", "--cache", "/tmp/c.sqlite", "--no-store-rollouts",
            "--beta_count_exponent", "3", "--goal", "--not-a-flag-value",
        ])
        #expect(
            arguments == [
                "--envs-per-worker", "4", "--llm-batch-size", "100", "--llm-examples", "x.json", "--annotation-cache", "/tmp/c.sqlite",
                "--store-fraction", "0", "--beta-count-exponent", "3", "--goal", "--not-a-flag-value",
            ])
        // `--cache` alone is the flag, not the old option.
        #expect(OptionAliases.canonical(["--cache", "--no-cache"]) == ["--cache", "--no-cache"])
        #expect(OptionAliases.canonical(["exec-tied", "--", "server", "--num-envs", "1"]) == ["exec-tied", "--", "server", "--num-envs", "1"])
    }

    /// ONI's README command line, as ONI's users type it, is an `oni run` with the same meaning.
    @Test func onisCommandLineRunsAsOnisOwn() throws {
        let oni = [
            "--train_dir", "/tmp/oni-runs", "--llm_model", "Meta-Llama-3.1-8B-Instruct", "--llm_server_addr", "gpu-node", "--experiment", "score-s1",
            "--root_env", "NetHackScore-v0", "--llm_reward_type", "online_cls", "--llm_reward_coeff", "0.4", "--extrinsic_reward_coeff", "0.1",
            "--goal_key", "combat", "--gamma", "0.999", "--num_workers", "3", "--rollout", "64", "--hidden_size", "128", "--beta_count_exponent", "2",
            "--wandb", "False", "--prompt_version", "default",
        ]
        let settings = try RunSettings.parse(OptionSources.expanded(oni, accepting: OptionValues.names(of: RunSettings.self)))
        #expect(settings.run.runDir == "/tmp/oni-runs/score-s1")
        #expect(settings.environment.env == "nethack:score" && settings.learner.reward == .retrieval)
        #expect(settings.learner.llmRewardCoeff == 0.4 && settings.learner.extrinsicRewardCoeff == 0.1 && settings.learner.betaCountExponent == 2)
        #expect(settings.annotator.llmUrl == "http://gpu-node:9001/v1" && settings.annotator.llmModel == "Meta-Llama-3.1-8B-Instruct")
        #expect(settings.learner.goal == "combat" && settings.learner.discount == 0.999 && settings.learner.hidden == 128)
        #expect(settings.run.workers == 3 && settings.worker.rolloutLength == 64)
        for (type, reward) in [("online_cls_reward_model", RewardChoice.classification), ("online_motif", .ranking), ("cosine-bow", .cosine), ("none", .none)] {
            #expect(try RunSettings.parse(ONISpellings.translate(["--llm-reward-type", type])).learner.reward == reward)
        }
        #expect(try ONISpellings.translate(["--root-env", "NetHackStaircase-v0", "--train-dir", "runs"]) == ["--env", "nethack:staircase", "--run-dir", "runs/default"])
        // ONI's own tasks are its rules and, with ExtendedActions, its 28 actions; every id names an environment Oni makes.
        #expect(try ONISpellings.translate(["--root-env", "NetHackStaircaseLvl3ExtendedActions-v1"]) == ["--env", "nethack:staircase,depth=3,rules=oni,actions=oni"])
        for (task, env) in ONISpellings.environments { #expect(throws: Never.self, "\(task) → \(env)") { _ = try EnvironmentFactory.make(name: env) } }
        #expect(try ONISpellings.translate(["--llm-server-addr", "https://llm.example/v1"]) == ["--llm-url", "https://llm.example/v1"])
        #expect(try ONISpellings.translate(["--prompt-version", "reworded", "--goal-key", "zeroknowledge"]) == ["--prompt", "oni-reworded", "--goal", "zeroknowledge"])
        #expect(try ONISpellings.translate(["--llm-server-addr", "gpu-node:8000"]) == ["--llm-url", "http://gpu-node:8000/v1"])
        // What follows `--` is left alone, and the run directory goes before it.
        #expect(try ONISpellings.translate(["--experiment", "e", "--", "--gamma", "1"]) == ["--run-dir", "train_dir/e", "--", "--gamma", "1"])
    }

    /// What Oni has no equal for is refused, naming what comes closest — never read as something else.
    @Test func onisSpellingsWithoutAnEqualAreRefusedWithTheNearest() {
        func refusal(_ arguments: [String]) -> String {
            do {
                _ = try ONISpellings.translate(arguments)
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal(["--root-env", "NetHackScoreExtendedActions-v2"]).contains("NetHackScoreExtendedActions-v1"))
        #expect(refusal(["--llm-reward-type", "motif"]).contains("oni replay fit-reward"))
        #expect(refusal(["--goal-key", "knowitall"]).contains("zeroknowledge"))
        #expect(refusal(["--prompt-version", "terse"]).contains("reworded"))
        #expect(refusal(["--wandb", "True"]).contains("wandb sync"))
        #expect(refusal(["--llm-reward-type"]).contains("needs a value"))
        #expect(refusal(["--train-dir", "--experiment", "e"]).contains("needs a value"))
        #expect(refusal(["--run-dir", "mine", "--experiment", "e"]).contains("give one"))
    }

    @Test func choicesAreClosedSetsThatHelpLists() throws {
        #expect(throws: (any Error).self) { try RunSettings.parse(["--reward", "retreival"]) }
        #expect(throws: (any Error).self) { try RunSettings.parse(["--core", "lstm"]) }
        let help = RunSettings.helpMessage(columns: 200)
        #expect(help.contains("values: auto, none, retrieval, classification, ranking, cosine"))
        #expect(help.contains("values: auto, local, none"))
    }

    @Test func workersAndTheAnnotatorGetTheirSettingsAndEachItsOwnWiring() throws {
        var settings = try RunSettings.parse([
            "--envs-per-worker", "6", "--rollout-length", "8", "--worker-threads", "3", "--heartbeat-seconds", "0.5", "--seed", "10",
            "--llm-timeout", "9", "--llm-retries", "1", "--llm-max-tokens", "32", "--max-queued-requests", "17", "--llm-url", "http://h:1/v1",
        ])
        var plan = try settings.plan(runDirectory: "/tmp/run", environment: [:])
        let endpoints = RunEndpoints(runID: "r-1", experience: "tcp://127.0.0.1:7001", params: "tcp://127.0.0.1:7002", metrics: "m", control: "c", annotator: nil)
        let worker = try WorkerProcess.parse(plan.workerArguments(index: 2, endpoints: endpoints))
        #expect(worker.worker.envsPerWorker == 6 && worker.worker.rolloutLength == 8 && worker.worker.workerThreads == 3 && worker.worker.heartbeatSeconds == 0.5)
        #expect(worker.environment.seed == 12 && worker.wiring.id == "worker-2" && worker.wiring.experience == endpoints.experience)
        let workerConfig = WorkerConfig(wiring: worker.wiring, environment: worker.environment, worker: worker.worker, role: worker.role)
        #expect(workerConfig.numEnvs == 6 && workerConfig.threads == 3 && workerConfig.runID == "r-1" && workerConfig.recordDirectory == "/tmp/run/recordings")
        // A restarted worker is a new incarnation with its own id and seed.
        let restarted = try WorkerProcess.parse(plan.workerArguments(index: 2, endpoints: endpoints, incarnation: 1))
        #expect(restarted.wiring.id == "worker-2.r1" && restarted.environment.seed == 12 + 1_000_003)
        #expect(worker.wiring.params == endpoints.params && worker.wiring.runId == "r-1")
        plan.labelMode = .tagged
        plan.pairJudge = .scores
        plan.llmConcurrency = 3
        let annotator = try AnnotatorProcess.parse(plan.annotatorArguments(bind: plan.annotatorBind, endpointFile: "/tmp/a.endpoint"))
        #expect(annotator.annotator.llmTimeout == 9 && annotator.annotator.llmRetries == 1 && annotator.annotator.llmMaxTokens == 32)
        #expect(annotator.annotator.maxQueuedRequests == 17 && annotator.annotator.llmUrl == "http://h:1/v1")
        #expect(annotator.annotator.labelMode == .tagged && annotator.annotator.pairJudge == .scores && annotator.annotator.llmConcurrency == 3)
        // Without --base-port every role binds a port the system chooses.
        #expect(annotator.wiring.bind == "tcp://127.0.0.1:*" && annotator.wiring.endpointFile == "/tmp/a.endpoint")
        let learner = try LearnerProcess.parse(plan.learnerArguments(annotator: "tcp://127.0.0.1:7005"))
        #expect(learner.wiring.annotator == "tcp://127.0.0.1:7005" && learner.wiring.experienceBind == "tcp://127.0.0.1:*")
        #expect(try LearnerProcess.parse(plan.learnerArguments(annotator: nil)).wiring.annotator == nil)
        settings.run.basePort = 6000
        let fixed = try settings.plan(runDirectory: "/r", environment: [:])
        #expect(try LearnerProcess.parse(fixed.learnerArguments(annotator: nil)).wiring.controlBind == "tcp://127.0.0.1:6003")
        #expect(fixed.annotatorBind == "tcp://127.0.0.1:6005")
    }

    @Test func resumeRefusesAChangedOptionUnlessOverridden() throws {
        let run = try temporaryDirectory()
        let original = try RunSettings.parse(["--hidden", "64", "--workers", "3", "--no-train"])
        try original.configurationFile(runDirectory: run).write(to: URL(fileURLWithPath: run + "/config.json"))

        func resume(_ arguments: [String]) throws -> RunSettings {
            let given = OptionAliases.canonical(arguments)
            return try ResumedRun.settings(runDirectory: run, given: given, commandLine: RunSettings.parse(given))
        }
        let same = try resume(["--max-env-steps", "99", "--log-level", "debug"])
        #expect(same.learner.hidden == 64 && same.run.workers == 3 && !same.learner.train && same.run.resume)
        #expect(same.learner.maxEnvSteps == 99 && same.role.logLevel == .debug)
        // Repeating a saved value is not a change.
        #expect(try resume(["--hidden", "64"]).learner.hidden == 64)
        #expect {
            try resume(["--hidden", "128", "--train"])
        } throws: { error in
            let text = "\(error)"
            return text.contains("--hidden (saved 64, given 128)") && text.contains("--train (saved off, given on)") && text.contains("--override")
        }
        let overridden = try resume(["--hidden", "128", "--override", "hidden=128", "--override", "train=true"])
        #expect(overridden.learner.hidden == 128 && overridden.learner.train)
        #expect(throws: (any Error).self) { try resume(["--override", "hiden=1"]) }
    }

    @Test func credentialsInAURLAreNeverSavedAndAResumeTakesThemAgain() throws {
        let run = try temporaryDirectory()
        let original = try RunSettings.parse(["--llm-url", "https://oni:hunter2@gpu-7:8000/v1"])
        let file = try original.configurationFile(runDirectory: run)
        let text = String(decoding: file, as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")  // JSON escapes '/'
        #expect(!text.contains("hunter2") && text.contains("https://***@gpu-7:8000/v1"))
        try file.write(to: URL(fileURLWithPath: run + "/config.json"))
        func resume(_ arguments: [String], environment: [String: String] = [:]) throws -> RunSettings {
            let given = OptionAliases.canonical(arguments)
            return try ResumedRun.settings(runDirectory: run, given: given, commandLine: RunSettings.parse(given), environment: environment)
        }
        // Given again with its credentials: the same URL, not a change.
        #expect(try resume(["--llm-url", "https://oni:hunter2@gpu-7:8000/v1"]).annotator.llmUrl == "https://oni:hunter2@gpu-7:8000/v1")
        #expect(try resume([], environment: ["ONI_LLM_BASE_URL": "https://oni:hunter2@gpu-7:8000/v1"]).annotator.llmUrl == "https://oni:hunter2@gpu-7:8000/v1")
        // Not given, or another server: refused rather than going on with another labeller (or none).
        #expect { try resume([]) } throws: { "\($0)".contains("credentials are not saved") }
        #expect(throws: (any Error).self) { try resume([], environment: ["ONI_LLM_BASE_URL": "https://oni:hunter2@gpu-9:8000/v1"]) }
        #expect(throws: (any Error).self) { try resume(["--llm-url", "https://oni:hunter2@gpu-8:8000/v1"]) }
    }

    @Test func aConfigurationSavedByAnOlderReleaseResumes() throws {
        let run = try temporaryDirectory()
        // camelCase keys, no `core` (a feed-forward network then).
        let legacy = #"{"runDirectory": "\#(run)", "workers": 3, "envsPerWorker": 8, "llmBaseURL": "http://x:1/v1", "train": true, "hidden": 64, "resume": false}"#
        try Data(legacy.utf8).write(to: URL(fileURLWithPath: run + "/config.json"))
        let resumed = try ResumedRun.settings(runDirectory: run, given: [], commandLine: RunSettings.parse([]))
        #expect(resumed.run.workers == 3 && resumed.worker.envsPerWorker == 8 && resumed.annotator.llmUrl == "http://x:1/v1")
        #expect(resumed.learner.core == .none && resumed.learner.hidden == 64)
    }

    @Test func longNamesFollowArgumentParser() {
        #expect(OptionValues.longName(ofProperty: "maxGradNorm") == "max-grad-norm")
        #expect(OptionValues.longName(ofProperty: "llmBaseURL") == "llm-base-url")
        #expect(OptionValues.longName(ofProperty: "URLSession") == "url-session")
        // Every declared option parses under the name the codec gives it.
        for type: any ParsableArguments.Type in [RunSettings.self, LearnerProcess.self, WorkerProcess.self, AnnotatorProcess.self] {
            let defaults = OptionValues.of(OptionValues.defaults(of: type))
            #expect(throws: Never.self) { _ = try type.parse(defaults.flatMap(\.arguments)) }
        }
    }
}

func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "oni-options-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func temporaryFile(_ name: String, _ data: Data) throws -> String {
    let path = try temporaryDirectory() + "/" + name
    try data.write(to: URL(fileURLWithPath: path))
    return path
}
