import Foundation
import OniAnnotation
import OniLearning

/// The configuration of `oni run`: one machine, every role as a child process.
/// Written, resolved, to `RUN_DIR/config.json` (never with the API key).
public struct RunConfig: Sendable, Codable, Equatable {
    /// Run directory (created if missing).
    public var runDirectory: String
    /// Continue the run already in `runDirectory`.
    public var resume = false
    /// Environment the workers play.
    public var env = "grid:keyroom"
    /// Worker processes.
    public var workers = 2
    /// Environments per worker (B).
    public var envsPerWorker = 16
    /// Rollout length (T).
    public var rolloutLength = 32
    /// Stop when the learner has consumed this many environment steps (0 = until Ctrl-C).
    public var maxEnvSteps: UInt64 = 1_000_000
    /// Base seed; worker k uses seed + k.
    public var seed: UInt64 = 1
    /// Address the learner and annotator bind to and the others connect to.
    public var host = "127.0.0.1"
    /// First port: experience = port, params = +1, metrics = +2, control = +3, annotator = +5,
    /// local LLM server = +6.
    public var basePort = 5555
    /// Which LLM annotates: `auto` (the server at `llmBaseURL` if given, else the local one if
    /// installed, else none), `local` (start llama-server; fail if it is not installed) or `none`.
    public var llm = "auto"
    /// OpenAI-compatible LLM server base URL (a remote server: vLLM, Ollama, …).
    public var llmBaseURL: String?
    /// Model name sent to the LLM server (a local server is named after its GGUF file).
    public var llmModel = "default"
    /// GGUF model the local server loads; nil = the one `deploy/setup-llm.sh` installs.
    public var llmModelFile: String?
    /// CPU threads of the local server (it shares the machine with the learner and workers).
    public var llmThreads = 1
    /// Requests the annotator keeps in flight (and slots of the local server); 0 = auto: 1 with
    /// the local server (one slot keeps the cached few-shot prefix for every request, and a shared
    /// machine gains nothing from more), 4 with any other server.
    public var llmConcurrency = 0
    /// Goal the LLM judges messages against.
    public var goal = "default"
    /// The annotator's label cache; nil = its default (~/.cache/oni/annotations.sqlite).
    public var annotationCache: String?
    /// How the LLM answers: `tagged`, `logprob` (see `LabelMode`) or `auto` — logprob with the
    /// local llama-server (one generated token, and a confidence), tagged with any other server
    /// (not every OpenAI-compatible server returns log-probabilities).
    public var labelMode = "auto"
    /// How pairs are compared for `ranking` (see `PairJudge`): `prompt`, `scores` or `auto` —
    /// scores with the local llama-server (its small default model cannot compare two messages
    /// in one prompt), prompt with any other server.
    public var pairJudge = "auto"
    /// The annotator's few-shot examples file; nil = the built-in ones.
    public var llmExamples: String?
    /// Messages per annotation request.
    public var llmBatchSize = 8
    /// Intrinsic reward (auto: retrieval when annotating, none otherwise) and ONI's coefficients.
    public var reward = "auto"
    public var llmRewardCoeff = RewardComposition().llmCoefficient
    public var extrinsicRewardCoeff = RewardComposition().extrinsicCoefficient
    public var betaCountExponent = RewardComposition().countExponent
    /// Weights the classification or ranking model starts from (`oni replay fit-reward`).
    public var rewardInit: String?
    /// Fraction of rollouts kept in the store (1 = all, 0 = none) and the size cap in MiB (0 = none).
    public var storeFraction = 1.0
    public var storeMaxMb = 0
    /// CURVE key directory (`oni keys generate`); nil = plain TCP. Every role gets `--curve`.
    public var curve: String?
    /// Log level of the children.
    public var logLevel = "info"
    /// Train the policy (off: workers act at random; the run only records and labels).
    public var train = true
    /// Environment steps per APPO update and the threads it is split across (see `LearnerConfig`).
    public var batchSize = LearnerConfig().batchSamples
    public var learnerThreads = LearnerConfig().learnerThreads
    /// Threads each worker splits its environments across (see `WorkerConfig.threads`).
    public var workerThreads = WorkerConfig().threads
    /// APPO's Adam step size, entropy bonus and policy-lag bound (see `TrainingConfig`, `LearnerConfig`).
    public var learningRate = TrainingConfig().learningRate
    public var entropyCoefficient = TrainingConfig().entropyCoefficient
    public var maxPolicyLag = LearnerConfig().maxPolicyLag
    /// Network sizes: character embedding, convolution filters, hidden width, recurrent core.
    public var embedding = 8
    public var filters = 16
    public var hidden = 256
    public var core = "auto"

    public init(runDirectory: String) {
        self.runDirectory = runDirectory
    }

    /// The configuration a run directory was started with (`RUN_DIR/config.json`), for `oni run --resume`.
    public static func saved(inRunDirectory runDirectory: String) throws(RuntimeError) -> RunConfig {
        let path = URL(fileURLWithPath: runDirectory).appendingPathComponent("config.json").path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalidConfiguration("--resume: \(path) not found; is \(runDirectory) a run directory made by `oni run`?")
        }
        do {
            // Options added since the run began take the value they had then: the defaults of
            // the time, and a feed-forward network before the recurrent core existed.
            guard let saved = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw CocoaError(.propertyListReadCorrupt)
            }
            var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(RunConfig(runDirectory: runDirectory))) as! [String: Any]
            merged.merge(saved) { $1 }
            if saved["core"] == nil { merged["core"] = PolicyArchitecture.Core.none.rawValue }
            return try JSONDecoder().decode(RunConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch {
            throw .invalidConfiguration("--resume: \(path) is not a run configuration Oni can read: \(error)")
        }
    }

    /// The defaults, for help texts.
    public static let defaults = RunConfig(runDirectory: "")

    public var experienceEndpoint: String { "tcp://\(host):\(basePort)" }
    public var paramsEndpoint: String { "tcp://\(host):\(basePort + 1)" }
    public var metricsEndpoint: String { "tcp://\(host):\(basePort + 2)" }
    public var controlEndpoint: String { "tcp://\(host):\(basePort + 3)" }
    public var annotatorEndpoint: String { "tcp://\(host):\(basePort + 5)" }
    /// The local LLM server's port (it listens on loopback only).
    public var localLLMPort: Int { basePort + 6 }

    /// The choices of `llm`.
    public static let llmChoices = ["auto", "local", "none"]

    /// Checks ranges; returns the first problem.
    public func validate() throws(RuntimeError) {
        guard batchSize > 0, (1...256).contains(learnerThreads) else {
            throw .invalidConfiguration("--batch-size must be positive and --learner-threads in 1...256")
        }
        guard learningRate > 0, entropyCoefficient >= 0, maxPolicyLag >= 0 else {
            throw .invalidConfiguration("--learning-rate must be positive, --entropy-coefficient and --max-policy-lag ≥ 0")
        }
        guard (1...envsPerWorker).contains(workerThreads) else { throw .invalidConfiguration("--worker-threads must be between 1 and --envs-per-worker") }
        guard workers > 0 else { throw .invalidConfiguration("--workers must be at least 1") }
        guard envsPerWorker > 0, rolloutLength > 0 else { throw .invalidConfiguration("--envs-per-worker and --rollout-length must be positive") }
        guard (1...65529).contains(basePort) else { throw .invalidConfiguration("--base-port must leave room for 7 ports below 65536") }
        guard Self.llmChoices.contains(llm) else { throw .invalidConfiguration("--llm must be one of \(Self.llmChoices), got '\(llm)'") }
        guard llmThreads > 0, llmConcurrency >= 0 else { throw .invalidConfiguration("--llm-threads must be at least 1, --llm-concurrency at least 0") }
        guard ["auto", "tagged", "logprob"].contains(labelMode) else {
            throw .invalidConfiguration("--label-mode must be auto, tagged or logprob, got '\(labelMode)'")
        }
        guard pairJudge == "auto" || PairJudge(rawValue: pairJudge) != nil else {
            throw .invalidConfiguration("--pair-judge must be auto, prompt or scores, got '\(pairJudge)'")
        }
        if let url = llmBaseURL, URL(string: url)?.scheme?.hasPrefix("http") != true {
            throw .invalidConfiguration("--llm-url must be an http(s) URL, got '\(url)'")
        }
    }

    /// Command-line arguments for each child, by role id.
    public func learnerArguments() -> [String] {
        var args = [
            "--run-dir", runDirectory,
            "--experience-bind", "tcp://\(host):\(basePort)", "--params-bind", "tcp://\(host):\(basePort + 1)",
            "--metrics-bind", "tcp://\(host):\(basePort + 2)", "--control-bind", "tcp://\(host):\(basePort + 3)",
            "--max-env-steps", "\(maxEnvSteps)", "--env", env, "--seed", "\(seed)", "--goal", goal, "--llm-batch-size", "\(llmBatchSize)", "--log-level", logLevel,
            "--embedding", "\(embedding)", "--filters", "\(filters)", "--hidden", "\(hidden)", "--core", core,
            train ? "--train" : "--no-train", "--reward", reward, "--llm-reward-coeff", "\(llmRewardCoeff)",
            "--extrinsic-reward-coeff", "\(extrinsicRewardCoeff)", "--beta-count-exponent", "\(betaCountExponent)",
            "--store-fraction", "\(storeFraction)", "--store-max-mb", "\(storeMaxMb)",
            "--batch-size", "\(batchSize)", "--learner-threads", "\(learnerThreads)", "--learning-rate", "\(learningRate)",
            "--entropy-coefficient", "\(entropyCoefficient)", "--max-policy-lag", "\(maxPolicyLag)",
        ]
        if resume { args.append("--resume") }
        if let rewardInit { args += ["--reward-init", rewardInit] }
        if llmBaseURL != nil { args += ["--annotator", annotatorEndpoint] }
        return args + curveArguments
    }

    /// The annotator's command line; `auto` label mode, pair judge and concurrency must have been
    /// resolved (`Supervisor` does it once it knows which server answers).
    public func annotatorArguments() -> [String] {
        [
            "--bind", "tcp://\(host):\(basePort + 5)", "--llm-url", llmBaseURL ?? "", "--llm-model", llmModel,
            "--label-mode", labelMode, "--pair-judge", pairJudge, "--llm-concurrency", "\(llmConcurrency)",
            "--log-level", logLevel,
        ] + (llmExamples.map { ["--examples", $0] } ?? [])
            + (annotationCache.map { ["--cache", $0] } ?? []) + curveArguments
    }

    public func workerArguments(index: Int) -> [String] {
        [
            "--id", "worker-\(index)", "--env", env, "--num-envs", "\(envsPerWorker)", "--rollout-length", "\(rolloutLength)",
            "--worker-threads", "\(workerThreads)",
            "--seed", "\(seed &+ UInt64(index))", "--experience", experienceEndpoint, "--params", paramsEndpoint, "--log-level", logLevel,
        ] + curveArguments
    }

    private var curveArguments: [String] { curve.map { ["--curve", $0] } ?? [] }
}
