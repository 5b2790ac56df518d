import Foundation
import Logging
import OniAnnotation
import OniRuntime
import OniStorage
import OniTransport
import Testing

/// The whole system as threads of this process over in-memory channels, started by the launcher
/// `oni run --single-process` uses: no socket, no child process, no HTTP.
@Suite struct RolesInOneProcessTests {
    /// Answers like a chat model that calls a message progress when it mentions a key or the stairs.
    struct KeywordJudge: LLMBackend {
        var model: String { "keyword-judge" }
        func complete(_ request: CompletionRequest) async throws(LLMError) -> Completion {
            let asked = request.messages.last?.content.lowercased() ?? ""
            let progress = asked.contains("key") || asked.contains("stairs")
            return Completion(text: progress ? "<label>yes</label>" : "<label>no</label>", firstTokenAlternatives: [])
        }
    }

    @Test func learnerAnnotatorAndWorkersTrainAndLabelInMemory() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("oni-one-process-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        var learner = LearnerConfig()
        learner.runDirectory = directory.path
        (learner.experienceBind, learner.paramsBind) = ("mem://learner/experience", "mem://learner/params")
        (learner.metricsBind, learner.controlBind) = ("mem://learner/metrics", "mem://learner/control")
        learner.annotatorEndpoint = "mem://annotator"
        learner.maxEnvSteps = 0
        learner.batchSamples = 512
        learner.learnerThreads = 1
        learner.tensorBoard = false
        var annotator = AnnotatorConfig(llm: LLMServerConfig(baseURL: URL(string: "http://unused.invalid/v1")!))
        annotator.bind = "mem://annotator"
        annotator.cachePath = nil
        func worker(_ index: Int) -> WorkerConfig {
            var config = WorkerConfig()
            config.id = "worker-\(index)"
            config.seed = UInt64(index)
            config.numEnvs = 8
            (config.experienceEndpoint, config.paramsEndpoint) = ("mem://learner/experience", "mem://learner/params")
            return config
        }
        let learnerConfig = learner, annotatorConfig = annotator
        let entries: [String: ([String]) throws -> ThreadRole] = [
            "oni-learner": { _ in
                ThreadRole(label: "oni.learner", logLevel: .info) { try Learner(config: learnerConfig, transport: $0, stop: $1, logger: $2).run() }
            },
            "oni-annotator": { _ in
                ThreadRole(label: "oni.annotator", logLevel: .info) {
                    try AnnotatorServer(config: annotatorConfig, transport: $0, stop: $1, logger: $2, backend: KeywordJudge()).run()
                }
            },
            "oni-worker": { arguments in
                let config = worker(Int(arguments[0])!)
                return ThreadRole(label: "oni.worker", logLevel: .info) { try Worker(config: config, transport: $0, stop: $1, logger: $2).run() }
            },
        ]
        let launcher = ThreadLauncher(entries: entries, executableDirectory: directory)
        let log = try FileHandle(forWritingTo: directory.appendingPathComponent("roles.log").creatingEmpty())
        let roles = try [
            launcher.launch(role: "annotator", executable: "oni-annotator", arguments: [], log: log),
            launcher.launch(role: "learner", executable: "oni-learner", arguments: [], log: log),
            launcher.launch(role: "worker-0", executable: "oni-worker", arguments: ["0"], log: log),
            launcher.launch(role: "worker-1", executable: "oni-worker", arguments: ["1"], log: log),
        ]
        // While it runs, the learner answers status requests over the same transport: it runs
        // until it has trained and has labels (labelling runs in tasks of Swift's pool, which the
        // suite's synchronous tests, run at the same time on two cores, have held for 200 s and more).
        var status: [String: Double] = [:]
        let deadline = Date().addingTimeInterval(600)
        func done() -> Bool {
            status["learner/updates", default: 0] >= 2 && status["messages/labelled", default: 0] >= 3 && status["learner/rollouts", default: 0] >= 16
        }
        while roles.allSatisfy(\.isRunning) && !done() && Date() < deadline {
            if let metrics = try StatusClient.query("mem://learner/control", transport: launcher.transport, timeoutMilliseconds: 500, logger: Logger(label: "test")) {
                status = metrics.values
            }
            // Not Thread.sleep: the annotator labels in tasks of the pool this test would hold.
            try await Task.sleep(for: .milliseconds(200))
        }
        // One last look: a test resumed late (the pool busy) may find the deadline passed and the work done.
        if !done(), let metrics = try StatusClient.query("mem://learner/control", transport: launcher.transport, timeoutMilliseconds: 2000, logger: Logger(label: "test")) {
            status = metrics.values
        }
        #expect(done(), "\(status)")
        // Workers first, then the annotator and the learner, which stores everything it was sent.
        // Stopping has its own minute: the work may have finished just before the deadline above.
        for index in [2, 3, 0, 1] {
            roles[index].terminate()
            let stopBy = Date().addingTimeInterval(60)
            while roles[index].isRunning && Date() < stopBy { try await Task.sleep(for: .milliseconds(20)) }
        }
        let logText = (try? String(contentsOf: directory.appendingPathComponent("roles.log"), encoding: .utf8)) ?? ""
        #expect(roles.allSatisfy { !$0.isRunning && $0.exitStatus == 0 }, "\(logText.suffix(2000))")

        let store = try RunStore(path: directory.appendingPathComponent(RunStore.fileName).path, readOnly: true)
        defer { store.close() }
        let stored = try store.database.scalarInt("SELECT count(*) FROM rollouts") ?? 0
        #expect(stored >= Int(status["learner/rollouts", default: 0]), "every rollout the learner counted is stored")
        let updates = try store.database.scalarInt("SELECT count(*) FROM metrics WHERE name = 'learner/updates' AND value > 0") ?? 0
        #expect(updates > 0, "the trainer made updates")
        let labelled = try store.database.scalarInt("SELECT count(*) FROM labels WHERE status = 'labelled'") ?? 0
        let progress = try store.database.scalarInt("SELECT count(*) FROM message_labels WHERE label = 1 AND text LIKE '%key%'") ?? 0
        #expect(labelled > 0 && progress > 0, "the annotator labelled the messages it was sent, the key as progress")
        let refused = try store.database.scalarInt("SELECT count(*) FROM metrics WHERE name = 'learner/frames_refused' AND value > 0") ?? 0
        #expect(refused == 0)
    }
}

extension URL {
    fileprivate func creatingEmpty() -> URL {
        FileManager.default.createFile(atPath: path, contents: nil)
        return self
    }
}
