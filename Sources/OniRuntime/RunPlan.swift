import Foundation
import OniAnnotation

/// Where `oni run`'s annotations come from.
public enum LLMSource: String, CaseIterable, Codable, Sendable {
    /// The server given by URL if any, else the local llama-server if installed, else none.
    case auto
    /// Start the local llama-server; fail if it is not installed.
    case local
    /// No annotation.
    case none
}

/// What `oni run` starts on one machine: the run's wiring (ports, workers, which LLM), and each
/// role's settings as command-line arguments, to which the plan adds each process's wiring.
/// Made from `oni run`'s options (`RunSettings.plan`); the options themselves are declared once,
/// in OniOptions.
public struct RunPlan: Sendable {
    /// Run directory (created if missing).
    public var runDirectory: String
    /// Continue the run already in `runDirectory`.
    public var resume = false
    /// With `resume`: start the policy afresh when the run has no usable checkpoint.
    public var freshWeights = false
    /// Worker processes.
    public var workers = 2
    /// Address the learner and annotator bind to and the others connect to.
    public var host = "127.0.0.1"
    /// First port: experience = port, params = +1, metrics = +2, control = +3, annotator = +5,
    /// local LLM server = +6. nil = ports the system chooses, found in `RUN_DIR/endpoints.json`,
    /// so that any number of runs share a machine.
    public var basePort: Int?
    /// The roles are threads of one process joined by in-memory channels (`--single-process`):
    /// addresses are names, not ports.
    public var inMemory = false
    /// Base seed; worker k plays seed + k.
    public var seed: UInt64 = 1
    /// For the first progress line.
    public var env = "grid:keyroom"
    public var envsPerWorker = 16
    public var goal = "default"
    /// CURVE key directory; nil = plain TCP.
    public var curve: String?
    public var logLevel = "info"
    /// The learner's `--store-max-mb` (-1 automatic, 0 none), for the first progress line.
    public var storeMaxMegabytes = -1
    /// Which LLM annotates.
    public var llm = LLMSource.auto
    /// OpenAI-compatible server base URL (a remote server: vLLM, Ollama, …).
    public var llmBaseURL: String?
    /// Model name sent to it (a local server is named after its GGUF file).
    public var llmModel = "default"
    /// GGUF the local server loads; nil = the one `deploy/setup-llm.sh` installs.
    public var llmModelFile: String?
    /// CPU threads of the local server.
    public var llmThreads = 1
    /// Where the learner serves Prometheus (`HOST:PORT`); nil = not served.
    public var prometheusBind: String?
    /// LLM requests in flight (and local server slots); 0 = 1 with the local server, 4 with any other.
    public var llmConcurrency = 0
    /// nil = chosen by server: logprob and scores with the local server, tagged and prompt with any other.
    public var labelMode: LabelMode?
    public var pairJudge: PairJudge?
    /// Each role's settings as arguments, shared options included (`RunSettings.plan`).
    public var learnerSettings: [String] = []
    public var workerSettings: [String] = []
    public var annotatorSettings: [String] = []
    /// `RUN_DIR/config.json`, written once the run directory is checked.
    public var configurationFile = Data()

    public init(runDirectory: String) {
        self.runDirectory = runDirectory
    }

    /// Where the learner binds: fixed ports, or ones the system chooses.
    public var learnerBinds: (experience: String, params: String, metrics: String, control: String) {
        if inMemory { return ("mem://learner/experience", "mem://learner/params", "mem://learner/metrics", "mem://learner/control") }
        guard let basePort else { return ("tcp://\(host):*", "tcp://\(host):*", "tcp://\(host):*", "tcp://\(host):*") }
        return ("tcp://\(host):\(basePort)", "tcp://\(host):\(basePort + 1)", "tcp://\(host):\(basePort + 2)", "tcp://\(host):\(basePort + 3)")
    }

    /// Where the annotator binds.
    public var annotatorBind: String { inMemory ? "mem://annotator" : basePort.map { "tcp://\(host):\($0 + 5)" } ?? "tcp://\(host):*" }

    /// The learner's command line (its wiring first, for `ps`); `annotator` is the endpoint the annotator bound, if any.
    public func learnerArguments(annotator: String?) -> [String] {
        let binds = learnerBinds
        var arguments = [
            "--run-dir", runDirectory, "--experience-bind", binds.experience, "--params-bind", binds.params,
            "--metrics-bind", binds.metrics, "--control-bind", binds.control,
        ]
        if resume { arguments.append("--resume") }
        if resume && freshWeights { arguments.append("--fresh-weights") }
        if let annotator { arguments += ["--annotator", annotator] }
        if let prometheusBind { arguments += ["--prometheus-bind", prometheusBind] }
        return arguments + learnerSettings
    }

    /// The annotator's command line; the server, label mode, pair judge and concurrency must have
    /// been resolved (`Supervisor` does it once it knows which server answers).
    public func annotatorArguments(bind: String, endpointFile: String) -> [String] {
        ["--bind", bind, "--endpoint-file", endpointFile] + annotatorSettings + [
            "--llm-url", llmBaseURL ?? "", "--llm-model", llmModel,
            "--label-mode", labelMode?.rawValue ?? "auto", "--pair-judge", pairJudge?.rawValue ?? "auto",
            "--llm-concurrency", "\(llmConcurrency)",
        ]
    }

    /// Worker `index`'s command line, given where the learner listens. A restarted worker is a new
    /// incarnation (`worker-1.r2`): its rollout sequence, which starts again at 0, is its own, and
    /// its seed moves on so that it plays other episodes.
    public func workerArguments(index: Int, endpoints: RunEndpoints, incarnation: Int = 0) -> [String] {
        let seed = self.seed &+ UInt64(index) &+ UInt64(incarnation) &* 1_000_003
        return [
            "--id", "worker-\(index)" + (incarnation > 0 ? ".r\(incarnation)" : ""), "--run-id", endpoints.runID, "--seed", "\(seed)",
            "--experience", endpoints.experience, "--params", endpoints.params,
            "--record-dir", (runDirectory as NSString).appendingPathComponent("recordings"),
        ] + workerSettings
    }
}
