import Foundation
import Logging
import OniCore
import OniAnnotation
import OniEnvironments
import OniStorage
import OniTelemetry
import OniTransport
import OniWire

/// Runs every role of `oni run` through a launcher (child processes, or threads of this process
/// with `--single-process`): starts the learner, the local LLM server and the annotator (when
/// annotating) and the workers, shows progress, stops them all on Ctrl-C/SIGTERM or when the
/// learner finishes, and fails naming the role if one dies.
public final class Supervisor {
    /// One role started.
    final class Child {
        let role: String
        let process: any RunningRole
        let logPath: String
        /// How it was started, to start it again.
        let executable: String
        var arguments: [String]
        init(role: String, process: any RunningRole, logPath: String, executable: String, arguments: [String]) {
            self.role = role
            self.process = process
            self.logPath = logPath
            self.executable = executable
            self.arguments = arguments
        }
    }

    /// Roles the run goes on without while they are restarted: training continues on the labels
    /// it has (and the other workers' experience), and the learner re-sends unanswered requests.
    /// At most `maxRestarts` each; only the learner's death ends the run.
    static func isRestartable(_ role: String) -> Bool { role == "annotator" || role == "llm-server" || role.hasPrefix("worker-") }
    static let maxRestarts = 5
    private var restarts: [String: Int] = [:]

    public let config: RunPlan
    private let launcher: any RoleLauncher
    private let stop: StopSignal
    private let logger: Logger
    private let output: (String) -> Void
    private var children: [Child] = []
    /// Where the learner listens, once it does.
    public private(set) var endpoints: RunEndpoints?

    public init(config: RunPlan, launcher: any RoleLauncher, stop: StopSignal, logger: Logger, output: @escaping (String) -> Void) {
        self.config = config
        self.launcher = launcher
        self.stop = stop
        self.logger = logger
        self.output = output
    }

    /// Runs to the end. Returns normally when the learner finished or the run was
    /// interrupted; throws `childFailed` when a role died.
    public func run() throws {
        let runDirectory = URL(fileURLWithPath: config.runDirectory)
        // Checked before anything is written: a second run never overwrites the first one's config.
        let traces = ["config.json", "oni.sqlite", "checkpoints/policy.safetensors"]
        if !config.resume && traces.contains(where: { FileManager.default.fileExists(atPath: runDirectory.appendingPathComponent($0).path) }) {
            throw RuntimeError.invalidConfiguration(
                "\(config.runDirectory) already holds a run; pass --resume to continue it, or choose another --run-dir")
        }
        // Which LLM annotates, decided before anything is written or started (the learner is told
        // whether an annotator exists).
        var roles = config
        let llmPort = config.basePort.map { $0 + 6 } ?? LocalLLMProcess.freePort()
        let local = try resolveLLM(&roles, port: llmPort)
        let logs = runDirectory.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try Self.recordingWhatAnnotates(config.configurationFile, roles: roles, env: config.env)
            .write(to: runDirectory.appendingPathComponent("config.json"))

        output("oni run: \(config.workers) workers × \(config.envsPerWorker) envs of \(config.env), run directory \(config.runDirectory), logs in \((config.runDirectory as NSString).appendingPathComponent("logs")); \(StoreCap.describe(StoreCap.resolve(megabytes: config.storeMaxMegabytes, runDirectory: runDirectory)))")

        defer { shutdown() }
        let context = launcher.transport
        // The LLM server and the annotator first: the learner is told where the annotator listens.
        if let local {
            try launch(
                // Through `oni exec-tied`: the kernel kills the server if this process dies, even by SIGKILL.
                "llm-server", "oni",
                ["exec-tied", "--", local.server]
                    + local.arguments(
                        port: llmPort, threads: config.llmThreads, slots: roles.llmConcurrency, contextSize: 4096 * roles.llmConcurrency,
                        alias: roles.llmModel),
                logs: logs)
            try waitForLLMServer(URL(string: "http://127.0.0.1:\(llmPort)")!)
        }
        var annotatorEndpoint: String?
        if roles.llmBaseURL != nil {
            let file = runDirectory.appendingPathComponent("annotator.endpoint")
            try? FileManager.default.removeItem(at: file)
            let annotator = try launch("annotator", "oni-annotator", roles.annotatorArguments(bind: config.annotatorBind, endpointFile: file.path), logs: logs)
            let endpoint = try waitForFile(file, from: annotator).trimmingCharacters(in: .whitespacesAndNewlines)
            annotatorEndpoint = endpoint
            // A restarted annotator binds the same port, where the learner keeps reconnecting.
            annotator.arguments = roles.annotatorArguments(bind: endpoint, endpointFile: file.path)
        }
        try? FileManager.default.removeItem(at: RunEndpoints.file(in: runDirectory))
        let learner = try launch("learner", "oni-learner", roles.learnerArguments(annotator: annotatorEndpoint), logs: logs)
        let endpoints = try waitForLearner(learner, runDirectory: runDirectory, context: context)
        self.endpoints = endpoints
        for index in 0..<config.workers {
            try launch("worker-\(index)", "oni-worker", roles.workerArguments(index: index, endpoints: endpoints), logs: logs)
        }

        let progress = try MessageChannel(
            transport: context, type: .sub, .connect(endpoints.metrics), options: ChannelOptions(conflate: true),
            name: "progress", accepts: [.metrics], logger: logger)
        defer { progress.close() }

        var last: Oni_V1_Metrics?
        var lastPrinted = Date.distantPast
        while !stop.isStopped {
            if case let .metrics(metrics)? = try progress.receive(timeoutMilliseconds: 200) {
                last = metrics
                if Date().timeIntervalSince(lastPrinted) >= 2 {
                    lastPrinted = Date()
                    output("oni run: " + MetricsTable.progressLine(metrics))
                }
            }
            for child in children where !child.process.isRunning {
                let status = child.process.exitStatus
                if child.role == "learner" && status == 0 && !stop.isStopped {
                    stop.stop(reason: "learner finished")
                    continue
                }
                if stop.isStopped { continue }
                let tail = Self.tail(of: child.logPath, lines: 15)
                output("oni run: \(child.role) exited with status \(status); last lines of \(child.logPath):\n\(tail)")
                if Self.isRestartable(child.role), restarts[child.role, default: 0] < Self.maxRestarts {
                    restarts[child.role, default: 0] += 1
                    let restart = restarts[child.role]!
                    output("oni run: restarting \(child.role) (\(restart) of \(Self.maxRestarts)); training goes on meanwhile")
                    children.removeAll { $0 === child }
                    let arguments = child.role.hasPrefix("worker-")
                        ? roles.workerArguments(index: Int(child.role.dropFirst("worker-".count)) ?? 0, endpoints: endpoints, incarnation: restart)
                        : child.arguments
                    try launch(child.role, child.executable, arguments, logs: logs)
                    continue
                }
                throw RuntimeError.childFailed(role: child.role, detail: "exited with status \(status)")
            }
        }
        // The learner has finished or we were interrupted: one last figure.
        if let final = try? StatusClient.query(endpoints.control, transport: context, timeoutMilliseconds: 500, logger: logger) {
            last = final
        }
        if let last { output("oni run: " + MetricsTable.progressLine(last)) }
        output("oni run: stopped (\(stop.stopReason ?? "done")); results in \(config.runDirectory)")
    }

    /// Decides which LLM annotates (see `RunPlan.llm`) and says so; fills in the local
    /// server's URL and model name. Returns the local server to start, if any.
    private func resolveLLM(_ roles: inout RunPlan, port: Int) throws -> LocalLLM? {
        if config.llm == .none {
            roles.llmBaseURL = nil
            output("oni run: --llm none: running without annotation")
            return nil
        }
        if let url = config.llmBaseURL, config.llm == .auto {
            // Not every OpenAI-compatible server returns log-probabilities; a remote one has room for more requests.
            roles.labelMode = roles.labelMode ?? .tagged
            roles.pairJudge = roles.pairJudge ?? .prompt
            if roles.llmConcurrency == 0 { roles.llmConcurrency = 4 }
            output("oni run: annotating with \(config.llmModel) at \(url), goal '\(config.goal)'")
            return nil
        }
        let local: LocalLLM
        do {
            local = try LocalLLM.locate(modelPath: config.llmModelFile)
        } catch {
            if config.llm == .local { throw RuntimeError.invalidConfiguration("\(error)") }
            output("oni run: no LLM: \(error); running without annotation")
            return nil
        }
        roles.llmBaseURL = "http://127.0.0.1:\(port)/v1"
        roles.llmModel = local.identity  // the name with the file's SHA-256: what labels are cached and stored under
        roles.labelMode = roles.labelMode ?? .logprob
        roles.pairJudge = roles.pairJudge ?? .scores
        if roles.llmConcurrency == 0 { roles.llmConcurrency = 1 }
        output("oni run: annotating with \(local.modelName) on a local llama-server (127.0.0.1:\(port), \(config.llmThreads) thread\(config.llmThreads == 1 ? "" : "s")), goal '\(config.goal)'")
        return local
    }

    /// `config.json` with what the options alone do not say: which LLM answered (model and server,
    /// credentials in its URL removed) and, for NetHack, which NLE build plays.
    static func recordingWhatAnnotates(_ file: Data, roles: RunPlan, env: String) -> Data {
        guard var object = (try? JSONSerialization.jsonObject(with: file)) as? [String: Any] else { return file }
        var made = object["made_by"] as? [String: Any] ?? [:]
        if let url = roles.llmBaseURL {
            made["llm_model"] = roles.llmModel
            made["llm_url"] = Redaction.credentials(in: url)
        } else {
            made["llm_model"] = "none"
        }
        if env.hasPrefix("nethack:"), let nle = try? NLEInstallation.locate() {
            made["nle"] = "1.3.0 (\(nle.root.path))"
        }
        object["made_by"] = made
        return (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? file
    }

    /// Waits until the local LLM server has loaded its model (`/health` answers 200).
    private func waitForLLMServer(_ base: URL) throws {
        guard let server = children.last(where: { $0.role == "llm-server" }) else { return }
        let limit = 180.0
        switch LLMServerHealth.waitUntilReady(base, seconds: limit, alive: { server.process.isRunning }, abandon: { stop.isStopped }) {
        case .ready, .abandoned:
            return
        case .exited:
            let tail = Self.tail(of: server.logPath, lines: 15)
            output("oni run: llm-server exited with status \(server.process.exitStatus) while starting:\n\(tail)")
            throw RuntimeError.childFailed(role: "llm-server", detail: "exited while loading its model")
        case .timedOut:
            throw RuntimeError.childFailed(
                role: "llm-server", detail: "\(LocalLLMError.notReady(url: base.absoluteString, seconds: limit, detail: "no 200 from /health"))")
        }
    }

    /// Starts `executable` (a sibling of `oni`, or an absolute path) as `role`, logging to `logs/ROLE.log`.
    @discardableResult
    private func launch(_ role: String, _ executable: String, _ arguments: [String], logs: URL) throws -> Child {
        let logPath = logs.appendingPathComponent("\(role).log").path
        guard FileManager.default.fileExists(atPath: logPath) || FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw RuntimeError.childFailed(role: role, detail: "cannot create its log \(logPath)")
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try log.seekToEnd()
        let started = try launcher.launch(role: role, executable: executable, arguments: arguments, log: log)
        let child = Child(role: role, process: started, logPath: logPath, executable: executable, arguments: arguments)
        children.append(child)
        logger.debug("started", metadata: ["role": "\(role)"])
        return child
    }

    /// Waits until the learner has written where it listens (`RUN_DIR/endpoints.json`) and answers
    /// on its control socket there.
    private func waitForLearner(_ learner: Child, runDirectory: URL, context: any Transport) throws -> RunEndpoints {
        try waitFor(learner, "listen and answer", RunEndpoints.file(in: runDirectory)) {
            guard let endpoints = RunEndpoints.read(in: runDirectory),
                  try StatusClient.query(endpoints.control, transport: context, timeoutMilliseconds: 300, logger: logger) != nil
            else { return nil }
            return endpoints
        }
    }

    /// Waits for a child to write `file` (the endpoint it bound), returning its contents.
    private func waitForFile(_ file: URL, from child: Child) throws -> String {
        try waitFor(child, "report where it listens", file) {
            (try? String(contentsOf: file, encoding: .utf8)).flatMap { $0.isEmpty ? nil : $0 }
        }
    }

    /// Polls `ready` for up to 30 s while `child` runs; fails naming the child (and the end of its
    /// log) if it exits first, or naming what it did not do in time.
    private func waitFor<T>(_ child: Child, _ what: String, _ file: URL, ready: () throws -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && !stop.isStopped {
            if let value = try ready() { return value }
            if !child.process.isRunning {
                let tail = Self.tail(of: child.logPath, lines: 15)
                output("oni run: \(child.role) exited with status \(child.process.exitStatus) while starting:\n\(tail)")
                throw RuntimeError.childFailed(role: child.role, detail: "exited while starting")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw RuntimeError.childFailed(
            role: child.role, detail: stop.isStopped ? "stopped while starting" : "did not \(what) within 30 s (\(file.path))")
    }

    /// Stops the children in waves — workers, then the annotator, then the
    /// learner, so it receives and stores everything sent to it — each with
    /// SIGTERM and, after 10 s, SIGKILL.
    private func shutdown() {
        let waves = [
            children.filter { $0.role.hasPrefix("worker") },
            children.filter { $0.role == "annotator" },
            children.filter { $0.role == "llm-server" },
            children.filter { $0.role == "learner" },
        ]
        for wave in waves {
            for child in wave where child.process.isRunning { child.process.terminate() }
            let deadline = Date().addingTimeInterval(10)
            var nudged = false
            while wave.contains(where: { $0.process.isRunning }) && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.02)
                // llama-server sometimes sits on its first SIGTERM; a second signal makes it exit at once.
                if !nudged && deadline.timeIntervalSinceNow < 9 {
                    nudged = true
                    for child in wave where child.role == "llm-server" && child.process.isRunning { child.process.interrupt() }
                }
            }
            for child in wave where child.process.isRunning {
                output("oni run: \(child.role) did not stop within 10 s; killing it")
                child.process.kill()
            }
        }
        children.removeAll()
    }

    static func tail(of path: String, lines: Int) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
