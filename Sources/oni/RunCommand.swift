import ArgumentParser
import Foundation
import Logging
import OniOptions
import OniRuntime
import OniTransport

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run learner, annotator and workers on this machine.",
        discussion: """
            Starts every role as a child process (--single-process: as threads of this one, \
            joined in memory), prints a progress line every two seconds, and \
            stops them all on Ctrl-C/SIGTERM or when the learner reaches --max-env-steps. If a \
            role dies, the run stops and exits non-zero naming it. The LLM: a server given by \
            --llm-url (or ONI_LLM_BASE_URL), else the local llama-server that deploy/setup-llm.sh \
            installs, started on 127.0.0.1:BASE_PORT+6 and stopped with the run; with neither \
            (or --llm none) the run goes on without annotation and says so first. Every option \
            of every role can be given here; --config FILE reads them from a JSON or YAML object \
            (e.g. {"workers": 4, "env": "grid:rats"}), and RUN_DIR/config.json, which holds every \
            resolved option of a run, is such a file. --resume --run-dir RUN_DIR continues a run \
            with its saved options: of the command line's, --max-env-steps and --log-level apply; \
            any other that differs is refused unless named in --override KEY=VALUE.
            """)

    @OptionGroup var settings: RunSettings

    func validate() throws {
        if settings.run.resume && settings.run.runDir == nil { throw ValidationError("--resume needs --run-dir RUN_DIR") }
        if settings.run.singleProcess && settings.role.curve != nil {
            throw ValidationError("--curve: a --single-process run sends nothing over the network to encrypt")
        }
    }

    func run() throws {
        _ = RoleLogging.bootstrap(level: "warning")
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .current, formatOptions: [.withYear, .withMonth, .withDay, .withTime])
            .replacingOccurrences(of: ":", with: "")
        let runDirectory = settings.run.runDir ?? "runs/run-\(stamp.replacingOccurrences(of: "T", with: "-"))"
        var settings = self.settings
        var plan: RunPlan
        do {
            if settings.run.resume {
                let given = try OptionSources.expanded(Array(CommandLine.arguments.dropFirst(2)), accepting: OptionValues.names(of: RunCommand.self))
                settings = try ResumedRun.settings(runDirectory: runDirectory, given: given, commandLine: settings)
            }
            plan = try settings.plan(runDirectory: runDirectory)
            plan.configurationFile = try settings.configurationFile(runDirectory: runDirectory)
        } catch {
            Console.line("oni run: \(RunCommand.message(for: error))")
            throw ExitCode.failure
        }

        let stop = StopSignal()
        let sources = stop.installSignalHandlers()
        defer { sources.forEach { $0.cancel() } }
        let logger = Logger(label: "oni.run")
        do {
            let topology: RunTopology = plan.inMemory ? .threads : .processes
            let launcher = try topology.launcher(executableDirectory: ExecutableLocation.directory, curve: plan.curve, logger: logger)
            try Supervisor(config: plan, launcher: launcher, stop: stop, logger: logger, output: Console.line).run()
        } catch let error as RuntimeError {
            Console.line("oni run: \(error)")
            throw ExitCode.failure
        } catch let error as CurveKeyError {
            Console.line("oni run: \(error)")
            throw ExitCode.failure
        }
    }
}

/// Where the running executable (and its siblings) live.
enum ExecutableLocation {
    static var directory: URL {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: path).deletingLastPathComponent()
    }
}
