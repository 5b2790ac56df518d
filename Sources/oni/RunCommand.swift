import ArgumentParser
import Foundation
import Logging
import OniAnnotation
import OniLearning
import OniRuntime
import OniTransport

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run learner, annotator and workers on this machine.",
        discussion: """
            Starts every role as a child process, prints a progress line every two seconds, and \
            stops them all on Ctrl-C/SIGTERM or when the learner reaches --max-env-steps. If a \
            role dies, the run stops and exits non-zero naming it. The LLM: a server given by \
            --llm-url (or ONI_LLM_BASE_URL), else the local llama-server that deploy/setup-llm.sh \
            installs, started on 127.0.0.1:BASE_PORT+6 and stopped with the run; with neither \
            (or --llm none) the run goes on without annotation and says so first. \
            --config FILE reads a JSON object of these options (e.g. {"workers": 4, "env": \
            "grid:rats"}); flags on the command line override it. --resume --run-dir RUN_DIR \
            continues a run with the options it was started with (RUN_DIR/config.json); of the \
            command line's, only --max-env-steps and --log-level then apply.
            """)

    @Option(help: "JSON file of options (keys are the long option names).") var config: String?
    @Option(help: "Run directory (default: runs/run-YYYYMMDD-HHMMSS).") var runDir: String?
    @Flag(help: "Continue the run in --run-dir with its saved options.") var resume = false
    @Option(help: "Environment: \(EnvironmentNames.list).") var env = RunConfig.defaults.env
    @Option(help: "Worker processes.") var workers = RunConfig.defaults.workers
    @Option(help: "Environments per worker (B).") var envsPerWorker = RunConfig.defaults.envsPerWorker
    @Option(help: "Rollout length (T).") var rolloutLength = RunConfig.defaults.rolloutLength
    @Option(help: "Stop after this many env steps (0 = until Ctrl-C; default \(RunConfig.defaults.maxEnvSteps)).") var maxEnvSteps: UInt64?
    @Option(help: "Base seed.") var seed = RunConfig.defaults.seed
    @Option(help: "Address every role binds and connects to.") var host = RunConfig.defaults.host
    @Option(help: "First of six ports (experience, params, metrics, control, -, annotator).") var basePort = RunConfig.defaults.basePort
    @Option(help: "Which LLM annotates: auto (--llm-url if given, else the local llama-server if installed, else none), local or none.")
    var llm = RunConfig.defaults.llm
    @Option(help: "OpenAI-compatible LLM base URL of a running server, e.g. vLLM (default: ONI_LLM_BASE_URL).") var llmUrl: String?
    @Option(help: "Model name for that server (default: ONI_LLM_MODEL or 'default').") var llmModel: String?
    @Option(help: "GGUF model for the local llama-server (default: the one deploy/setup-llm.sh installs).") var llmModelFile: String?
    @Option(help: "CPU threads of the local llama-server.") var llmThreads = RunConfig.defaults.llmThreads
    @Option(help: "Few-shot examples for the LLM (a versioned JSON file; default: the built-in ones).") var llmExamples: String?
    @Option(help: "LLM requests in flight and slots of the local llama-server (0 = 1 for the local server, 4 for others).") var llmConcurrency = RunConfig.defaults.llmConcurrency
    @Option(help: "How the LLM answers: auto (logprob with the local server, tagged otherwise), tagged (<label>yes</label>) or logprob (P(yes) vs P(no) of its first token).")
    var labelMode = RunConfig.defaults.labelMode
    @Option(help: "How ranking compares two messages: auto (scores with the local server, prompt otherwise), prompt (both in one prompt, asked in both orders) or scores (each labelled alone, preference σ(logit p₁ − logit p₂)).")
    var pairJudge = RunConfig.defaults.pairJudge
    @Option(help: "The annotator's label cache, shared across runs (default: ~/.cache/oni/annotations.sqlite).") var annotationCache: String?
    @Option(help: "Goal for the LLM: default, combat, gold, stairs or free text.") var goal = RunConfig.defaults.goal
    @Option(name: [.customLong("llm-batch-size"), .customLong("llm_batch_size")], help: "Messages per annotation request.")
    var llmBatchSize = RunConfig.defaults.llmBatchSize
    @Option(help: "Intrinsic reward: auto (retrieval when an LLM is configured, none otherwise), none, retrieval, classification, ranking or cosine.")
    var reward = RunConfig.defaults.reward
    @Option(help: "Weights the classification or ranking model starts from (written by `oni replay fit-reward`).") var rewardInit: String?
    @Option(name: [.customLong("llm-reward-coeff"), .customLong("llm_reward_coeff")], help: "Weight of the intrinsic (LLM) reward.")
    var llmRewardCoeff = RunConfig.defaults.llmRewardCoeff
    @Option(name: [.customLong("extrinsic-reward-coeff"), .customLong("extrinsic_reward_coeff")], help: "Weight of the game's reward.")
    var extrinsicRewardCoeff = RunConfig.defaults.extrinsicRewardCoeff
    @Option(name: [.customLong("beta-count-exponent"), .customLong("beta_count_exponent")], help: "β of the 1/N(msg)^β count scaling (N per episode).")
    var betaCountExponent = RunConfig.defaults.betaCountExponent
    @Option(help: "Fraction of rollouts kept in the store, evenly spread (episodes, messages, labels, metrics always are).")
    var storeFraction = RunConfig.defaults.storeFraction
    @Option(help: "Stop keeping rollouts once they take this many MiB (0 = no cap).") var storeMaxMb = RunConfig.defaults.storeMaxMb
    @Option(help: ArgumentHelp(CurveSettings.help + " Every role gets it.", valueName: "dir")) var curve: String?
    @Option(help: "Log level of the roles (default \(RunConfig.defaults.logLevel)).") var logLevel: String?
    @Flag(inversion: .prefixedNo, help: "Train the policy with APPO (off: workers act at random).") var train = RunConfig.defaults.train
    @Option(help: "Environment steps per APPO update, made of whole rollouts (larger: faster per sample, fewer updates).")
    var batchSize = RunConfig.defaults.batchSize
    @Option(help: "Threads the learner splits each update across (data-parallel; they take cores from the workers).")
    var learnerThreads = RunConfig.defaults.learnerThreads
    @Option(help: "Threads each worker splits its environments across (each with its own copy of the network).")
    var workerThreads = RunConfig.defaults.workerThreads
    @Option(help: "Adam's step size.") var learningRate = RunConfig.defaults.learningRate
    @Option(help: "Weight of the entropy bonus (exploration).") var entropyCoefficient = RunConfig.defaults.entropyCoefficient
    @Option(help: "Skip rollouts whose policy is more than this many versions old.") var maxPolicyLag = RunConfig.defaults.maxPolicyLag
    @Option(help: "Network: character embedding size.") var embedding = RunConfig.defaults.embedding
    @Option(help: "Network: filters of each convolution.") var filters = RunConfig.defaults.filters
    @Option(help: "Network: hidden layer width (and recurrent state size).") var hidden = RunConfig.defaults.hidden
    @Option(help: "Network: recurrent core, auto (GRU for an egocentric view, none for a whole map), gru or none.") var core = RunConfig.defaults.core

    func validate() throws {
        if let llmExamples {
            do { _ = try FewShotExamples.load(path: llmExamples) } catch { throw ValidationError("\(error)") }
        }
        guard RunConfig.llmChoices.contains(llm) else { throw ValidationError("--llm must be one of \(RunConfig.llmChoices), got '\(llm)'") }
        guard (0...1).contains(storeFraction), storeMaxMb >= 0 else { throw ValidationError("--store-fraction must be in [0, 1] and --store-max-mb ≥ 0") }
        guard IntrinsicRewardType.choice(reward) != nil else {
            throw ValidationError("--reward must be one of \(IntrinsicRewardType.choices), got '\(reward)'")
        }
        // With --config the file may give the run directory: checked after the merge.
        if resume && runDir == nil && config == nil { throw ValidationError("--resume needs --run-dir RUN_DIR") }
        guard PolicyArchitecture.Core.choice(core) != nil else {
            throw ValidationError("--core must be one of \(PolicyArchitecture.Core.choices), got '\(core)'")
        }
    }

    func run() throws {
        if let file = config {
            // Options from the file first, then the command line's, which win.
            let fileArguments = try RunConfigFile.arguments(fromJSONFile: file)
            let commandLine = Array(CommandLine.arguments.dropFirst(2))
            var merged = try RunCommand.parse(fileArguments + commandLine)
            merged.config = nil
            try merged.run()
            return
        }
        _ = RoleLogging.bootstrap(level: "warning")
        let environment = ProcessInfo.processInfo.environment
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .current, formatOptions: [.withYear, .withMonth, .withDay, .withTime])
            .replacingOccurrences(of: ":", with: "")
        var resolved = RunConfig(runDirectory: runDir ?? "runs/run-\(stamp.replacingOccurrences(of: "T", with: "-"))")
        resolved.env = env
        resolved.workers = workers
        resolved.envsPerWorker = envsPerWorker
        resolved.rolloutLength = rolloutLength
        resolved.maxEnvSteps = maxEnvSteps ?? RunConfig.defaults.maxEnvSteps
        resolved.seed = seed
        resolved.host = host
        resolved.basePort = basePort
        resolved.llmBaseURL = llmUrl ?? environment["ONI_LLM_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        resolved.llmModel = llmModel ?? environment["ONI_LLM_MODEL"] ?? "default"
        resolved.llm = llm
        resolved.llmModelFile = llmModelFile
        resolved.llmThreads = llmThreads
        resolved.labelMode = labelMode
        resolved.pairJudge = pairJudge
        resolved.llmConcurrency = llmConcurrency
        resolved.rewardInit = rewardInit.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        resolved.llmExamples = llmExamples.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        resolved.goal = goal
        resolved.annotationCache = annotationCache
        resolved.llmBatchSize = llmBatchSize
        resolved.logLevel = logLevel ?? RunConfig.defaults.logLevel
        resolved.curve = curve.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        resolved.train = train
        resolved.embedding = embedding
        resolved.batchSize = batchSize
        resolved.learnerThreads = learnerThreads
        resolved.workerThreads = workerThreads
        resolved.learningRate = learningRate
        resolved.entropyCoefficient = entropyCoefficient
        resolved.maxPolicyLag = maxPolicyLag
        resolved.filters = filters
        resolved.hidden = hidden
        resolved.core = core
        resolved.reward = reward
        resolved.storeFraction = storeFraction
        resolved.storeMaxMb = storeMaxMb
        resolved.llmRewardCoeff = llmRewardCoeff
        resolved.extrinsicRewardCoeff = extrinsicRewardCoeff
        resolved.betaCountExponent = betaCountExponent
        if resume {
            guard let runDir else { throw ValidationError("--resume needs --run-dir RUN_DIR") }
            let saved: RunConfig
            do {
                saved = try RunConfig.saved(inRunDirectory: runDir)
            } catch {
                Console.line("oni run: \(error)")
                throw ExitCode.failure
            }
            resolved = saved
            resolved.runDirectory = runDir
            if let maxEnvSteps { resolved.maxEnvSteps = maxEnvSteps }
            if let logLevel { resolved.logLevel = logLevel }
            resolved.resume = true
        }

        let stop = StopSignal()
        let sources = stop.installSignalHandlers()
        defer { sources.forEach { $0.cancel() } }
        let supervisor = Supervisor(
            config: resolved, executableDirectory: ExecutableLocation.directory, stop: stop,
            logger: Logger(label: "oni.run"), output: Console.line)
        do {
            try supervisor.run()
        } catch let error as RuntimeError {
            Console.line("oni run: \(error)")
            throw ExitCode.failure
        } catch let error as CurveKeyError {
            Console.line("oni run: \(error)")
            throw ExitCode.failure
        }
    }
}

/// Turns a JSON object of options into command-line arguments.
enum RunConfigFile {
    static func arguments(fromJSONFile path: String) throws -> [String] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("cannot read --config \(path): \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ValidationError("--config \(path) is not a JSON object of options")
        }
        var arguments: [String] = []
        for key in object.keys.sorted() {
            let flag = "--" + key.replacingOccurrences(of: "_", with: "-")
            switch object[key] {
            case let value as String: arguments += [flag, value]
            case let value as NSNumber: arguments += [flag, value.stringValue]
            default: throw ValidationError("--config \(path): option '\(key)' must be a string or a number")
            }
        }
        return arguments
    }
}

/// Where the running executable (and its siblings) live.
enum ExecutableLocation {
    static var directory: URL {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: path).deletingLastPathComponent()
    }
}
