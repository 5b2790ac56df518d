import ArgumentParser
import OniRuntime

// Where each role binds or connects, and which run it belongs to: set per process by whoever
// launches it (`oni run`, the Slurm and Kubernetes scripts), not shared between roles.

/// The learner's run directory and sockets.
public struct LearnerWiring: ParsableArguments, Sendable {
    @Option(help: "Run directory (created if missing).") public var runDir = LearnerConfig().runDirectory
    @Flag(inversion: .prefixedNo, exclusivity: .chooseLast, help: "Continue the run in --run-dir (an empty directory simply starts).")
    public var resume = false
    @Flag(inversion: .prefixedNo, exclusivity: .chooseLast, help: "With --resume: when the run has steps but no usable checkpoint, start the policy afresh instead of refusing.")
    public var freshWeights = false
    @Option(help: "Experience socket (workers connect here).") public var experienceBind = LearnerConfig().experienceBind
    @Option(help: "Params socket.") public var paramsBind = LearnerConfig().paramsBind
    @Option(help: "Metrics socket (oni metrics --follow connects here).") public var metricsBind = LearnerConfig().metricsBind
    @Option(help: "Control socket (status requests).") public var controlBind = LearnerConfig().controlBind
    @Option(help: "Annotator endpoint, e.g. tcp://127.0.0.1:5560; omit to run without annotation.") public var annotator: String?
    @Option(help: ArgumentHelp("Serve the metrics for Prometheus at http://HOST:PORT/metrics (port 0: the system chooses; see RUN_DIR/endpoints.json).", valueName: "host:port"))
    public var prometheusBind: String?
    @Option(help: ArgumentHelp(CurveSettings.clientKeyHelp, valueName: "file")) public var curveClientKey: String?

    public init() {}
}

/// A worker's id and the learner's endpoints.
public struct WorkerWiring: ParsableArguments, Sendable {
    @Option(help: "Stable id of this worker within the run.") public var id = WorkerConfig().id
    @Option(help: "The run this worker belongs to (RUN_DIR/run-id; oni run passes it): the learner of another run refuses its rollouts, and it ignores another run's params. Empty = not checked.")
    public var runId = ""
    @Option(help: "The learner's experience endpoint.") public var experience = WorkerConfig().experienceEndpoint
    @Option(help: "The learner's params endpoint.") public var params = WorkerConfig().paramsEndpoint
    @Option(help: "Stop after this many env steps of its own (0 = until stopped).") public var maxEnvSteps = WorkerConfig().maxEnvSteps
    @Option(help: "Where --record-every puts its recordings.") public var recordDir: String?
    @Option(help: ArgumentHelp(CurveSettings.clientKeyHelp, valueName: "file")) public var curveClientKey: String?

    public init() {}
}

/// The annotator's socket and id.
public struct AnnotatorWiring: ParsableArguments, Sendable {
    @Option(help: "Request socket (learners connect here).") public var bind = AnnotatorConfig.defaultBind
    @Option(help: "Id reported in replies.") public var id = "annotator-0"
    @Option(help: "Write the endpoint actually bound to this file (for --bind tcp://HOST:*, a port the system chooses).") public var endpointFile: String?

    public init() {}
}

/// Every option of every Oni role and of `oni run`, for telling a typo from another role's option.
public enum OniCommandOptions {
    public static let allNames: Set<String> = {
        let types: [any ParsableArguments.Type] = [
            RunSettings.self, LearnerWiring.self, WorkerWiring.self, AnnotatorWiring.self,
        ]
        return types.reduce(into: ["config", "preset"]) { $0.formUnion(OptionValues.names(of: $1)) }
    }()
}
