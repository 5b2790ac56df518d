import ArgumentParser
import Foundation
import Logging
import OniRuntime

/// What each role runs, from its option groups: the one body its executable runs in a process of
/// its own and `oni run --single-process` runs on a thread.
public enum RoleEntries {
    public static func learner(wiring: LearnerWiring, environment: EnvironmentOptions, learner: LearnerOptions, role: RoleOptions) -> ThreadRole {
        let config = LearnerConfig(wiring: wiring, environment: environment, learner: learner, role: role)
        return ThreadRole(label: "oni.learner", logLevel: role.logLevel.level) { transport, stop, logger in
            try Learner(config: config, transport: transport, stop: stop, logger: logger).run()
        }
    }

    public static func worker(wiring: WorkerWiring, environment: EnvironmentOptions, worker: WorkerOptions, role: RoleOptions) -> ThreadRole {
        let config = WorkerConfig(wiring: wiring, environment: environment, worker: worker, role: role)
        return ThreadRole(label: "oni.worker.\(wiring.id)", logLevel: role.logLevel.level) { transport, stop, logger in
            try Worker(config: config, transport: transport, stop: stop, logger: logger).run()
        }
    }

    public static func annotator(wiring: AnnotatorWiring, annotator: AnnotatorOptions, role: RoleOptions) throws -> ThreadRole {
        let config = try AnnotatorConfig(wiring: wiring, annotator: annotator, role: role)
        return ThreadRole(label: "oni.annotator", logLevel: role.logLevel.level) { transport, stop, logger in
            try AnnotatorServer(config: config, transport: transport, stop: stop, logger: logger).run()
        }
    }

    /// Each role executable's command line, parsed as the executable parses it, into what runs on a thread.
    public static var byExecutable: [String: ([String]) throws -> ThreadRole] {
        [
            "oni-learner": { arguments in
                let parsed = try LearnerArguments.parse(arguments)
                return learner(wiring: parsed.wiring, environment: parsed.environment, learner: parsed.learner, role: parsed.role)
            },
            "oni-worker": { arguments in
                let parsed = try WorkerArguments.parse(arguments)
                return worker(wiring: parsed.wiring, environment: parsed.environment, worker: parsed.worker, role: parsed.role)
            },
            "oni-annotator": { arguments in
                let parsed = try AnnotatorArguments.parse(arguments)
                return try annotator(wiring: parsed.wiring, annotator: parsed.annotator, role: parsed.role)
            },
        ]
    }
}

// The option groups of each role executable, for parsing its command line in this process.
struct LearnerArguments: ParsableArguments {
    @OptionGroup var wiring: LearnerWiring
    @OptionGroup var environment: EnvironmentOptions
    @OptionGroup var learner: LearnerOptions
    @OptionGroup var role: RoleOptions
}

struct WorkerArguments: ParsableArguments {
    @OptionGroup var wiring: WorkerWiring
    @OptionGroup var environment: EnvironmentOptions
    @OptionGroup var worker: WorkerOptions
    @OptionGroup var role: RoleOptions
}

struct AnnotatorArguments: ParsableArguments {
    @OptionGroup var wiring: AnnotatorWiring
    @OptionGroup var annotator: AnnotatorOptions
    @OptionGroup var role: RoleOptions
}

/// How `oni run` lays its roles out.
public enum RunTopology: Sendable {
    /// Each role a process of its own over ZeroMQ (the default; what clusters do across machines).
    case processes
    /// Every role a thread of this one process over in-memory channels (`--single-process`).
    case threads

    /// The launcher for this layout. `executableDirectory` holds the role executables (and is where
    /// the local LLM server's helper is found in either layout); `curve` encrypts the processes' channels.
    public func launcher(executableDirectory: URL, curve: String?, logger: Logger) throws -> any RoleLauncher {
        switch self {
        case .processes:
            let transport = try RoleMain.makeContext(
                curve: curve.map { CurveSettings(directory: $0, binds: false, connects: true) }, logger: logger)
            return ProcessLauncher(executableDirectory: executableDirectory, transport: transport)
        case .threads:
            RoleMain.prepareForTraining(logger: logger)
            return ThreadLauncher(entries: RoleEntries.byExecutable, executableDirectory: executableDirectory)
        }
    }
}
