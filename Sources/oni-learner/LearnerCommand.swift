import ArgumentParser
import OniOptions
import OniRuntime

@main
struct LearnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oni-learner",
        abstract: "Receive rollouts, store them, get messages labelled, publish metrics.",
        discussion: """
            Binds the experience (PULL), params (PUB), metrics (PUB) and control (REP) sockets. \
            Everything it receives goes to RUN_DIR/oni.sqlite; metrics also to RUN_DIR/metrics.jsonl. \
            With --resume it continues the run in --run-dir: messages, labels, counters and, from \
            RUN_DIR/checkpoints, the policy and optimiser (falling back to the previous checkpoint \
            if the newest is corrupt); without it, a run directory that already holds a run is refused. \
            Stops on SIGINT/SIGTERM or after --max-env-steps, flushing the store first. \
            --config FILE takes options from a JSON or YAML file (a run's config.json works); the \
            command line's win.
            """,
        version: BuildInfo.current.versionLine)

    @OptionGroup var configFile: ConfigFileOption
    @OptionGroup(title: "Run directory and sockets") var wiring: LearnerWiring
    @OptionGroup(title: "Environment") var environment: EnvironmentOptions
    @OptionGroup(title: "Learner") var learner: LearnerOptions
    @OptionGroup(title: "Every role") var role: RoleOptions

    static func main() {
        main(OptionSources.arguments(for: Self.self))
    }

    func run() throws {
        let entry = RoleEntries.learner(wiring: wiring, environment: environment, learner: learner, role: role)
        try RoleMain.run(
            logLevel: role.logLevel.rawValue, label: "oni.learner",
            curve: .from(role.curve, clientKey: wiring.curveClientKey, binds: true, connects: wiring.annotator != nil)
        ) { transport, stop, logger in
            try entry.body(transport, stop, logger)
        }
    }
}
