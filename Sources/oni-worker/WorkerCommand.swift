import ArgumentParser
import OniOptions
import OniRuntime

@main
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oni-worker",
        abstract: "Play environments and send rollouts to the learner.",
        discussion: """
            Steps --envs-per-worker environments together and sends one Rollout every \
            --rollout-length steps to the learner's experience socket. Acts uniformly at random \
            until it has a policy. Reconnects by itself when the learner restarts. Stops on \
            SIGINT/SIGTERM. --config FILE takes options from a JSON or YAML file; the command line's win.
            """,
        version: BuildInfo.current.versionLine)

    @OptionGroup var configFile: ConfigFileOption
    @OptionGroup(title: "Id and the learner's endpoints") var wiring: WorkerWiring
    @OptionGroup(title: "Environment") var environment: EnvironmentOptions
    @OptionGroup(title: "Worker") var worker: WorkerOptions
    @OptionGroup(title: "Every role") var role: RoleOptions

    static func main() {
        main(OptionSources.arguments(for: Self.self))
    }

    func run() throws {
        let entry = RoleEntries.worker(wiring: wiring, environment: environment, worker: worker, role: role)
        try RoleMain.run(
            logLevel: role.logLevel.rawValue, label: "oni.worker.\(wiring.id)",
            curve: .from(role.curve, clientKey: wiring.curveClientKey, binds: false, connects: true, ownKeyName: wiring.id)
        ) { transport, stop, logger in
            try entry.body(transport, stop, logger)
        }
    }
}
