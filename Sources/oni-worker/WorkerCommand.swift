import ArgumentParser
import Foundation
import Logging
import OniRuntime
import OniTransport

@main
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oni-worker",
        abstract: "Play environments and send rollouts to the learner.",
        discussion: """
            Steps --num-envs environments together and sends one Rollout every --rollout-length \
            steps to the learner's experience socket. Acts uniformly at random until it has a \
            policy. Reconnects by itself when the learner restarts. Stops on SIGINT/SIGTERM.
            """)

    @Option(help: "Stable id of this worker within the run.") var id = WorkerConfig().id
    @Option(help: "Environment to play: \(EnvironmentNames.list).") var env = WorkerConfig().env
    @Option(help: "Environments stepped together (B).") var numEnvs = WorkerConfig().numEnvs
    @Option(help: "Steps per environment in one rollout (T).") var rolloutLength = WorkerConfig().rolloutLength
    @Option(help: "Threads the environments are split across (each with its own copy of the network; at most --num-envs).")
    var workerThreads = WorkerConfig().threads
    @Option(help: "Base seed of the episodes.") var seed = WorkerConfig().seed
    @Option(help: "The learner's experience endpoint.") var experience = WorkerConfig().experienceEndpoint
    @Option(help: "The learner's params endpoint.") var params = WorkerConfig().paramsEndpoint
    @Option(help: "Seconds between heartbeats.") var heartbeatSeconds = WorkerConfig().heartbeatSeconds
    @Option(help: "Stop after this many env steps (0 = until stopped).") var maxEnvSteps = WorkerConfig().maxEnvSteps
    @Option(help: "Largest frame accepted, in bytes.") var maxFrameBytes = WorkerConfig().maxFrameBytes
    @Option(help: ArgumentHelp(CurveSettings.help, valueName: "dir")) var curve: String?
    @Option(help: ArgumentHelp(CurveSettings.clientKeyHelp, valueName: "file")) var curveClientKey: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"

    func validate() throws {
        guard numEnvs > 0, rolloutLength > 0 else { throw ValidationError("--num-envs and --rollout-length must be positive") }
        guard (1...numEnvs).contains(workerThreads) else { throw ValidationError("--worker-threads must be between 1 and --num-envs") }
        guard heartbeatSeconds > 0 else { throw ValidationError("--heartbeat-seconds must be positive") }
        try FrameLimit.validate(maxFrameBytes)
    }

    func run() throws {
        var config = WorkerConfig()
        config.id = id
        config.env = env
        config.numEnvs = numEnvs
        config.rolloutLength = rolloutLength
        config.threads = workerThreads
        config.seed = seed
        config.experienceEndpoint = experience
        config.paramsEndpoint = params
        config.heartbeatSeconds = heartbeatSeconds
        config.maxEnvSteps = maxEnvSteps
        config.maxFrameBytes = maxFrameBytes
        try RoleMain.run(
            logLevel: logLevel, label: "oni.worker.\(id)",
            curve: .from(curve, clientKey: curveClientKey, binds: false, connects: true)
        ) { context, stop, logger in
            try Worker(config: config, context: context, stop: stop, logger: logger).run()
        }
    }
}
