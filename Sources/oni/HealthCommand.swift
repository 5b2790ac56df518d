import ArgumentParser
import Foundation
import Logging
import OniRuntime

struct HealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Ask a learner or annotator whether it answers; exit 0 if it does (for probes and scripts).",
        discussion: """
            `oni health learner` sends a status request to the learner's control socket; \
            `oni health annotator` sends a heartbeat to the annotator's request socket. Either \
            prints one line of the role's figures and exits 0, or says it got no answer and \
            exits 1. Workers bind no socket: the learner's `workers/live` metric tells which \
            are alive.
            """)

    @Argument(help: "learner or annotator.") var role: String
    @Option(help: "The role's socket, or a run directory (its endpoints.json; default: the learner's control tcp://127.0.0.1:5558, the annotator's tcp://127.0.0.1:5560).")
    var endpoint: String?
    @Option(help: "Milliseconds to wait for the answer.") var timeoutMs = 2000
    @Option(help: ArgumentHelp(CurveSettings.help, valueName: "dir")) var curve: String?
    @Option(help: ArgumentHelp(CurveSettings.clientKeyHelp, valueName: "file")) var curveClientKey: String?

    func validate() throws {
        guard ["learner", "annotator"].contains(role) else { throw ValidationError("ROLE must be learner or annotator, got '\(role)'") }
        guard timeoutMs > 0 else { throw ValidationError("--timeout-ms must be positive") }
    }

    func run() throws {
        _ = RoleLogging.bootstrap(level: "error")
        let logger = Logger(label: "oni.health")
        let context = try RoleMain.makeContext(
            curve: .from(curve, clientKey: curveClientKey, binds: false, connects: true), logger: logger)
        // A run directory: the endpoints its learner wrote.
        var endpoint = self.endpoint
        if let given = endpoint, !given.contains("://") {
            guard let endpoints = RunEndpoints.read(in: URL(fileURLWithPath: given)) else {
                Console.line("oni health: \(given) has no endpoints.json (not a run directory, or its learner never listened)")
                throw ExitCode.failure
            }
            guard let chosen = role == "learner" ? endpoints.control : endpoints.annotator else {
                Console.line("oni health: the run in \(given) has no annotator")
                throw ExitCode.failure
            }
            endpoint = chosen
        }
        if role == "learner" {
            let target = endpoint ?? LearnerConfig().controlBind.replacingOccurrences(of: "*", with: "127.0.0.1")
            guard let metrics = try StatusClient.query(target, transport: context, timeoutMilliseconds: timeoutMs, logger: logger) else {
                Console.line("oni health: no answer from the learner at \(target) within \(timeoutMs) ms")
                throw ExitCode.failure
            }
            let version = metrics.values["learner/policy_version"].map { " policy_version=\(Int($0))" } ?? ""
            Console.line("learner ok: env_steps=\(metrics.envSteps) live_workers=\(metrics.liveWorkers.count)\(version)")
        } else {
            let target = endpoint ?? AnnotatorConfig.defaultBind.replacingOccurrences(of: "*", with: "127.0.0.1")
            guard let beat = try AnnotatorStatusClient.query(target, transport: context, timeoutMilliseconds: timeoutMs, logger: logger) else {
                Console.line("oni health: no answer from the annotator at \(target) within \(timeoutMs) ms")
                throw ExitCode.failure
            }
            let figures = ["requests", "labelled", "queue_depth", "cache_hit_rate"].compactMap { name in
                beat.stats[name].map { "\(name)=\($0 == $0.rounded() ? String(Int($0)) : String(format: "%.3f", $0))" }
            }
            Console.line("annotator ok: id=\(beat.id) " + figures.joined(separator: " "))
        }
    }
}
