import ArgumentParser
import Foundation
import OniCore
import OniRuntime

/// What only `oni run` decides: where the run lives, how many workers, which ports, which LLM.
public struct RunOptions: ParsableArguments, Sendable {
    @Option(help: "JSON or YAML file of options (keys: long option names; RUN_DIR/config.json is one); the command line's win.")
    public var config: String?
    @Option(help: ArgumentHelp("Start from a preset's values (oni: ONI's settings per task family, see the Running article); a config file's and the command line's win.", valueName: "name"))
    public var preset: String?
    @Option(help: "Run directory (default: runs/run-YYYYMMDD-HHMMSS).") public var runDir: String?
    @Flag(inversion: .prefixedNo, exclusivity: .chooseLast, help: "Continue the run in --run-dir with its saved options.")
    public var resume = false
    @Flag(inversion: .prefixedNo, exclusivity: .chooseLast, help: "With --resume: when the run has steps but no usable checkpoint (killed before its first), start the policy afresh instead of refusing.")
    public var freshWeights = false
    @Option(help: ArgumentHelp("With --resume: change a saved option anyway (e.g. --override hidden=512). --max-env-steps and --log-level need none.", valueName: "key=value"))
    public var override: [String] = []
    @Option(help: "Worker processes.") public var workers = 2
    @Option(help: "Address every role binds and connects to.") public var host = "127.0.0.1"
    @Option(help: "Fixed ports from this one: experience, params, metrics, control, -, annotator, local LLM server (default: ports the system chooses, written to RUN_DIR/endpoints.json, so that runs never collide).")
    public var basePort: Int?
    @Option(help: "Which LLM annotates: auto (--llm-url if given, else the local llama-server if installed, else none), local or none.")
    public var llm = LLMSource.auto
    @Option(help: "GGUF model for the local llama-server (default: the one deploy/setup-llm.sh installs).") public var llmModelFile: String?
    @Option(help: "CPU threads of the local llama-server: auto (the cores that workers × --worker-threads and --learner-threads leave idle, at least 1) or a count.")
    public var llmThreads = LLMThreadsSetting.automatic
    @Option(help: ArgumentHelp("Serve the learner's metrics for Prometheus at http://HOST:PORT/metrics (port 0: the system chooses; RUN_DIR/endpoints.json says which).", valueName: "host:port"))
    public var prometheus: String?
    @Flag(inversion: .prefixedNo, exclusivity: .chooseLast, help: "Run every role as a thread of this process over in-memory channels instead of a process each (to debug, profile or sanitize one process; oni metrics and oni health cannot reach it).")
    public var singleProcess = false

    public init() {}

    public func validate() throws {
        guard workers > 0 else { throw ValidationError("--workers must be at least 1") }
        if let basePort, !(1...65529).contains(basePort) { throw ValidationError("--base-port must leave room for 7 ports below 65536") }
        for item in override where !item.contains("=") { throw ValidationError("--override takes KEY=VALUE, got '\(item)'") }
        if singleProcess && basePort != nil { throw ValidationError("--base-port: a --single-process run has no ports") }
    }
}

/// Every option of `oni run`: its own and every role's settings, grouped in help by topic.
public struct RunSettings: ParsableArguments, Sendable {
    @OptionGroup(title: "Run") public var run: RunOptions
    @OptionGroup(title: "Environment") public var environment: EnvironmentOptions
    @OptionGroup(title: "Workers") public var worker: WorkerOptions
    @OptionGroup(title: "Learner") public var learner: LearnerOptions
    @OptionGroup(title: "Annotator") public var annotator: AnnotatorOptions
    @OptionGroup(title: "Every role") public var role: RoleOptions

    public init() {}

    /// Options that say how to start this time, not what the run is: never saved in config.json.
    public static let unsaved: Set<String> = ["config", "preset", "resume", "fresh-weights", "override", "single-process"]

    /// `oni run`'s default for --max-env-steps.
    public static let defaultMaxEnvSteps: UInt64 = 1_000_000

    /// The options as `RUN_DIR/config.json` holds them (resolved; the API key is never an option,
    /// and credentials in a URL are saved as `***`: `--resume` takes them from its command line or
    /// ONI_LLM_BASE_URL again).
    public func savedOptions(runDirectory: String) -> [OptionValue] {
        var options = OptionValues.of(self).filter { !Self.unsaved.contains($0.name) }.map { option -> OptionValue in
            guard case let .text(text) = option.value else { return option }
            return OptionValue(name: option.name, value: .text(Redaction.credentials(in: text)))
        }
        options.removeAll { $0.name == "run-dir" || $0.name == "max-env-steps" }
        options.append(OptionValue(name: "run-dir", value: .text(runDirectory)))
        options.append(OptionValue(name: "max-env-steps", value: .number("\(learner.maxEnvSteps ?? Self.defaultMaxEnvSteps)")))
        return options.sorted { $0.name < $1.name }
    }

    /// `RUN_DIR/config.json`: every resolved option, and what made the run.
    public func configurationFile(runDirectory: String) throws -> Data {
        var options: [String: Any] = [:]
        for option in savedOptions(runDirectory: runDirectory) { options[option.name] = option.json }
        let object: [String: Any] = ["options": options, "made_by": BuildInfo.current.dictionary]
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }

    /// What the supervisor starts. `environment` gives ONI_LLM_BASE_URL and ONI_LLM_MODEL.
    public func plan(runDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RunPlan {
        var plan = RunPlan(runDirectory: runDirectory)
        plan.resume = run.resume
        plan.freshWeights = run.freshWeights
        plan.workers = run.workers
        plan.host = run.host
        plan.basePort = run.basePort
        plan.inMemory = run.singleProcess
        plan.storeMaxMegabytes = learner.storeMaxMb.megabytes
        plan.seed = self.environment.seed
        plan.env = self.environment.env
        plan.envsPerWorker = worker.envsPerWorker
        plan.goal = learner.goal
        plan.curve = role.curve.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        plan.logLevel = role.logLevel.rawValue
        plan.llm = run.llm
        plan.llmBaseURL = annotator.llmUrl ?? environment["ONI_LLM_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        plan.llmModel = annotator.llmModel ?? environment["ONI_LLM_MODEL"] ?? "default"
        plan.llmModelFile = run.llmModelFile
        plan.llmThreads = run.llmThreads.threads(
            cores: ProcessInfo.processInfo.activeProcessorCount, busy: run.workers * worker.workerThreads + learner.learnerThreads)
        plan.prometheusBind = run.prometheus
        plan.llmConcurrency = annotator.llmConcurrency
        // ONI's prompts answer in tagged text and compare pairs with their own prompt, whichever server answers.
        plan.labelMode = annotator.labelMode.mode ?? (annotator.prompt == .default ? nil : .tagged)
        plan.pairJudge = annotator.pairJudge.judge ?? (annotator.prompt == .default ? nil : .prompt)

        // Each role gets its settings (and the shared ones) as arguments; the plan adds the wiring.
        var shared = role
        shared.curve = plan.curve
        var learner = self.learner
        learner.maxEnvSteps = learner.maxEnvSteps ?? Self.defaultMaxEnvSteps
        learner.rewardInit = learner.rewardInit.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        var annotator = self.annotator
        annotator.llmExamples = annotator.llmExamples.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        plan.learnerSettings = Self.arguments(shared) + Self.arguments(self.environment) + Self.arguments(learner)
        plan.workerSettings = Self.arguments(shared) + ["--env", self.environment.env] + Self.arguments(worker)
        // The server, model, label mode, pair judge and concurrency are the supervisor's to
        // resolve once it knows which server answers (`RunPlan.annotatorArguments`).
        let resolvedLater: Set = ["llm-url", "llm-model", "label-mode", "pair-judge", "llm-concurrency"]
        plan.annotatorSettings = Self.arguments(shared) + OptionValues.of(annotator).filter { !resolvedLater.contains($0.name) }.flatMap(\.arguments)
        return plan
    }

    static func arguments(_ options: any ParsableArguments) -> [String] {
        OptionValues.of(options).flatMap(\.arguments)
    }
}
