import ArgumentParser
import Foundation
import Logging
import OniRuntime

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Send a run's stored experience to a learner again.",
        subcommands: [Rollouts.self])

    struct Rollouts: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream a run's stored rollouts to a learner, as a worker would.",
            discussion: """
                Reads RUN_DIR/oni.sqlite oldest first in small batches (bounded memory) and pushes each \
                rollout to the learner's experience socket, marked as replay: the learner trains on it \
                (V-trace corrects with the stored behaviour log-probabilities, whatever run's policy \
                acted), counts it under replay/* and keeps it out of the live episode statistics. \
                Progress goes to stderr every two seconds; Ctrl-C stops.
                """)

        @Argument(help: "The run directory to replay.") var runDir: String
        @Option(help: "The learner's experience endpoint, e.g. tcp://127.0.0.1:5555.") var to: String
        @Option(help: "Most rollouts per second (default: as fast as the learner takes them).") var rate: Double?
        @Option(help: "Only rollouts received at or after this learner env step.") var from: UInt64?
        @Option(help: "Only rollouts received at or before this learner env step.") var until: UInt64?

        func validate() throws {
            if let rate, !(rate > 0) { throw ValidationError("--rate must be positive") }
            guard to.hasPrefix("tcp://") || to.hasPrefix("ipc://") else { throw ValidationError("--to must be tcp://HOST:PORT or ipc://PATH") }
        }

        func run() throws {
            _ = RoleLogging.bootstrap(level: "warning")
            let stop = StopSignal()
            let sources = stop.installSignalHandlers()
            defer { sources.forEach { $0.cancel() } }
            var config = RolloutReplayer.Config(runDirectory: runDir, endpoint: to)
            (config.rate, config.fromStep, config.untilStep) = (rate, from, until)
            let replayer = RolloutReplayer(config: config, stop: stop, logger: Logger(label: "oni.replay"))
            do {
                let done = try replayer.run { p in
                    FileHandle.standardError.write(Data("oni replay: \(p.sent) of \(p.total) rollouts sent\(p.unreadable > 0 ? ", \(p.unreadable) unreadable" : "")\n".utf8))
                }
                Console.line("oni replay: sent \(done.sent) of \(done.total) rollouts to \(to)\(done.unreadable > 0 ? "; \(done.unreadable) unreadable rows skipped" : "")")
            } catch let error as RuntimeError {
                Console.line("oni replay: \(error)")
                throw ExitCode.failure
            }
        }
    }
}
