import Foundation
import OniCore
import OniRuntime
import OniStorage
import OniTestSupport
import OniWire
import Testing

/// `oni run` as a user runs it: one command, every role a child process.
@Suite(.serialized) struct OniRunTests {
    /// A small network keeps training quick in debug builds.
    static let tinyNetwork = ["--embedding", "2", "--filters", "2", "--hidden", "16"]

    /// SIGKILLs the processes whose command line matches `pattern`; false if there were none.
    static func killAll(matching pattern: String) throws -> Bool {
        let pkill = Process()
        pkill.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
        pkill.arguments = ["-KILL", "-f", pattern]
        try pkill.run()
        pkill.waitUntilExit()
        return pkill.terminationStatus == 0
    }

    func temporaryRun() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("oni-run-\(UUID().uuidString)").path
    }

    @Test func withoutAnLLMItSaysSoFirstAndFinishes() throws {
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let oni = try ChildProcess(
            "oni",
            [
                "run", "--llm", "none", "--run-dir", run, "--max-env-steps", "20000", "--workers", "2", "--envs-per-worker", "4",
                "--base-port", "\(FreePorts.consecutive(7))", "--keep-checkpoints-every", "8000",
            ] + OniRunTests.tinyNetwork)
        #expect(oni.wait(seconds: 120) == 0, "\(oni.output)")
        let lines = oni.output.split(separator: "\n")
        #expect(lines.first == "oni run: --llm none: running without annotation")
        #expect(lines.last?.hasPrefix("oni run: stopped (learner finished)") == true, "\(oni.output)")
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        #expect(try store.lastLearnerEnvSteps() >= 20000)
        // config.json: every option, and what made the run.
        let saved = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/config.json"))) as? [String: Any])
        let made = try #require(saved["made_by"] as? [String: Any])
        #expect(made["llm_model"] as? String == "none" && made["oni_version"] as? String == OniVersion.current)
        #expect((saved["options"] as? [String: Any])?["keep-checkpoints-every"] as? Int == 8000)
        #expect(FileManager.default.fileExists(atPath: run + "/logs/worker-1.log"))

        // Milestones at each multiple of 8,000 env steps passed (20,000 steps: 8,000 and 16,000).
        let milestones = try FileManager.default.contentsOfDirectory(atPath: run + "/checkpoints").filter { $0.hasPrefix("step-") }.sorted()
        #expect(milestones == ["step-000008000.safetensors", "step-000016000.safetensors"], "\(milestones)")
        // Each milestone evaluated: a report per milestone, rows in the store, the curve printed.
        let evaluate = try ChildProcess("oni", ["evaluate", run, "--all-milestones", "--episodes", "4", "--threads", "2"], name: "evaluate")
        #expect(evaluate.wait(seconds: 120) == 0, "\(evaluate.output)")
        #expect(evaluate.output.contains("milestones") && evaluate.output.contains("return"), "\(evaluate.output)")
        let reports = try FileManager.default.contentsOfDirectory(atPath: run + "/evaluations")
        #expect(reports.count >= 2, "\(reports)")
        #expect(try RunStore(path: run + "/oni.sqlite", readOnly: true).evaluations().count == reports.count)
        // …and `oni plot` draws them as a curve by the env steps each checkpoint was trained on.
        let plot = try ChildProcess("oni", ["plot", run, "--metric", "eval/return", "--output", run + "/eval.svg"], name: "plot")
        #expect(plot.wait(seconds: 60) == 0 && plot.output.contains(": \(reports.count) points"), "\(plot.output)")
        let wrongGame = try ChildProcess("oni", ["evaluate", run, "--env", "grid:vault"], name: "evaluate-vault")
        #expect(wrongGame.wait(seconds: 60) == 0, "grid tasks share one network shape: \(wrongGame.output)")
        let noRun = try ChildProcess("oni", ["evaluate", run + "-missing"], name: "evaluate-missing")
        #expect(noRun.wait(seconds: 60) == 1 && noRun.output.contains("does not exist"), "\(noRun.output)")
        // Watched under a pseudo-terminal: frames drawn with the action's name, and `q` quits.
        let oniPath = ChildProcess.binDirectory.appendingPathComponent("oni").path
        let watched = try PseudoTerminal.output(of: "\(oniPath) watch \(run) --fps 50 --max-frames 4", input: nil)
        #expect(watched.components(separatedBy: "(q quits)").count - 1 == 4, "\(watched)")
        #expect(watched.contains("\u{1B}[H\u{1B}[2J") && watched.contains("HP:") && watched.contains("episode 0  step 3  action "), "\(watched)")
        // `q` typed once two frames are shown (not after a fixed time: a loaded machine can take longer to draw the first).
        let quit = try PseudoTerminal.output(of: "\(oniPath) watch \(run) --fps 10 --episodes 100", input: "q", once: "(q quits)", times: 2)
        let frames = quit.components(separatedBy: "(q quits)").count - 1
        #expect(frames >= 2 && frames < 100, "\(frames) frames before q")

        // A resumed run keeps its saved options: a changed one is refused, naming it.
        let changed = try ChildProcess("oni", ["run", "--resume", "--run-dir", run, "--hidden", "24"], name: "changed")
        #expect(changed.wait(seconds: 60) == 1 && changed.output.contains("--hidden (saved"), "\(changed.output)")

        // The same directory again: refused without --resume, continued with it (saved options, new step budget).
        let again = try ChildProcess("oni", ["run", "--llm", "none", "--run-dir", run, "--base-port", "\(FreePorts.consecutive(7))"] + OniRunTests.tinyNetwork)
        #expect(again.wait(seconds: 60) != 0)
        #expect(again.output.contains("already holds a run"), "\(again.output)")
        let resumed = try ChildProcess("oni", ["run", "--resume", "--run-dir", run, "--max-env-steps", "30000"])
        #expect(resumed.wait(seconds: 120) == 0, "\(resumed.output)")
        #expect(try store.lastLearnerEnvSteps() >= 30000)
        let learnerLog = (try? String(contentsOfFile: run + "/logs/learner.log", encoding: .utf8)) ?? ""
        #expect(learnerLog.contains("resumed training"), "\(learnerLog)")
    }

    /// Two runs started at once on one machine, neither given ports: each binds ports the system
    /// chooses, finishes, and holds only its own workers' rollouts.
    @Test func twoRunsAtOnceOnOneMachineKeepTheirOwnData() throws {
        let runs = [temporaryRun(), temporaryRun()]
        defer { for run in runs { try? FileManager.default.removeItem(atPath: run) } }
        let processes = try runs.enumerated().map { index, run in
            try ChildProcess(
                "oni", ["run", "--llm", "none", "--run-dir", run, "--max-env-steps", "15000", "--workers", "2", "--envs-per-worker", "4"]
                    + OniRunTests.tinyNetwork, name: "run-\(index)")
        }
        for process in processes { #expect(process.wait(seconds: 180) == 0, "\(process.output)") }
        var controls: Set<String> = []
        for run in runs {
            let runID = try #require(RunIdentity.saved(in: URL(fileURLWithPath: run)))
            let endpoints = try #require(RunEndpoints.read(in: URL(fileURLWithPath: run)))
            #expect(endpoints.runID == runID)
            controls.insert(endpoints.control)
            let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
            #expect(try store.lastLearnerEnvSteps() >= 15000)
            let stored = try store.rollouts(afterID: 0, limit: 10_000)
            #expect(!stored.isEmpty)
            for row in stored {
                #expect(try Rollout(wire: Oni_V1_Rollout(serializedBytes: row.protobuf)).runID == runID)
            }
        }
        #expect(controls.count == 2)
    }

    /// With no --llm-url, `auto` falls back to running without annotation when the local LLM is
    /// not installed, naming the command that installs it; `--llm local` refuses instead.
    @Test func withoutTheLocalLLMAutoSaysHowToInstallIt() throws {
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let nowhere = ["HOME": run + "-home", "ONI_LLAMA_SERVER": "", "ONI_LLAMA_DIR": run + "-none", "PATH": "/usr/bin:/bin"]
        let local = try ChildProcess(
            "oni", ["run", "--llm", "local", "--run-dir", run, "--max-env-steps", "1", "--base-port", "\(FreePorts.consecutive(7))"], environment: nowhere)
        #expect(local.wait(seconds: 60) == 1, "\(local.output)")
        #expect(local.output.contains("llama-server not found") && local.output.contains("deploy/setup-llm.sh"), "\(local.output)")
        let auto = try ChildProcess(
            "oni", ["run", "--run-dir", run, "--max-env-steps", "2000", "--workers", "1", "--envs-per-worker", "4", "--base-port", "\(FreePorts.consecutive(7))"]
                + OniRunTests.tinyNetwork, environment: nowhere)
        #expect(auto.wait(seconds: 120) == 0, "\(auto.output)")
        #expect(auto.output.hasPrefix("oni run: no LLM: local LLM: llama-server not found"), "\(auto.output)")
        #expect(auto.output.contains("running without annotation"))
    }

    /// Whether this machine has the local LLM (`deploy/setup-llm.sh`); CI always does.
    static let localLLMInstalled = (try? LocalLLM.locate()) != nil || ProcessInfo.processInfo.environment["CI"] != nil

    /// The default path end to end with the real llama-server and the real model: `oni run` starts
    /// the server, labels come back and are stored, and the server is stopped with the run.
    /// (Whether the labels are right is the model's business, not asserted here.)
    @Test(.enabled(if: localLLMInstalled)) func theLocalLLMLabelsMessagesEndToEnd() throws {
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let port = FreePorts.consecutive(7)
        let oni = try ChildProcess(
            "oni",
            [
                "run", "--run-dir", run, "--max-env-steps", "0", "--workers", "1", "--envs-per-worker", "4", "--base-port", "\(port)",
                "--annotation-cache", run + "-labels.sqlite",
            ] + OniRunTests.tinyNetwork)
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: run + "-labels.sqlite" + suffix) } }
        let labelled = eventually(seconds: 240) {
            oni.output.split(separator: "\n").contains { line in
                guard let range = line.range(of: "labelled ") else { return false }
                return Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0 >= 2
            }
        }
        #expect(labelled, "\(oni.output)")
        oni.signal(SIGINT)
        #expect(oni.wait(seconds: 60) == 0, "\(oni.output)")
        let local = try LocalLLM.locate()
        #expect(oni.output.hasPrefix("oni run: annotating with \(local.modelName) on a local llama-server (127.0.0.1:\(port + 6)"), "\(oni.output)")
        // Labels are stored under the model's identity: its name and its file's SHA-256.
        let model = local.identity
        #expect(model.hasPrefix(local.modelName + "@sha256:") && model.count == local.modelName.count + 8 + 16)
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        let rows = try store.database.prepare("SELECT count(*), count(DISTINCT prompt_hash) FROM labels WHERE status = 'labelled' AND model = ?")
        try rows.bind(.text(model))
        #expect(try rows.step())
        #expect(rows.int(0) >= 2 && rows.int(1) == 1, "\(oni.output)")
        let log = (try? String(contentsOfFile: run + "/logs/llm-server.log", encoding: .utf8)) ?? ""
        #expect(log.contains("model loaded"), "\(log.suffix(2000))")
        // Stopped with the run: nothing answers on its port any more.
        #expect(!LLMServerHealth.isReady(URL(string: "http://127.0.0.1:\(port + 6)")!))
    }

    @Test func withAnLLMItLabelsMessages() throws {
        let llm = try FakeLLMServer { message, _ in .reply(message.contains("key") ? "<label>yes</label>" : "<label>no</label>") }
        defer { llm.stop() }
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let oni = try ChildProcess(
            "oni",
            [
                "run", "--run-dir", run, "--max-env-steps", "0", "--workers", "1", "--envs-per-worker", "4",
                "--base-port", "\(FreePorts.consecutive(7))", "--llm-url", llm.baseURL.absoluteString,
                "--annotation-cache", run + "-labels.sqlite",
            ] + OniRunTests.tinyNetwork)
        // Progress lines say how many messages are labelled; wait for a few.
        let labelled = eventually(seconds: 90) {
            oni.output.split(separator: "\n").contains { line in
                guard let range = line.range(of: "labelled ") else { return false }
                return Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0 >= 3
            }
        }
        #expect(labelled, "\(oni.output)")
        oni.signal(SIGINT)
        #expect(oni.wait(seconds: 60) == 0, "\(oni.output)")
        #expect(oni.output.hasPrefix("oni run: annotating with default at \(llm.baseURL.absoluteString)"))
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: run + "-labels.sqlite" + suffix) } }
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        let messages = try store.messages()
        #expect(messages.filter { $0.label != nil }.count >= 3, "\(oni.output)")
        // Every label the run got is in the cache for the next run.
        #expect(try SQLiteLabelCache(path: run + "-labels.sqlite").count >= messages.filter { $0.label != nil }.count)
        for message in messages {
            if let label = message.label { #expect(label == (message.text.contains("key") ? 1 : 0), "\(message.text)") }
        }
    }

    /// `--curve DIR`: every role's sockets encrypted and authenticated, the annotator too;
    /// `oni health` answers with the keys and gets nothing without them.
    @Test func withCurveEveryRoleTalksOnlyToKeyHolders() throws {
        let llm = try FakeLLMServer { message, _ in .reply(message.contains("key") ? "<label>yes</label>" : "<label>no</label>") }
        defer { llm.stop() }
        let run = temporaryRun()
        let keys = run + "-keys"
        defer { for path in [run, keys, run + "-labels.sqlite", run + "-labels.sqlite-wal", run + "-labels.sqlite-shm"] { try? FileManager.default.removeItem(atPath: path) } }
        let generate = try ChildProcess("oni", ["keys", "generate", keys])
        #expect(generate.wait(seconds: 30) == 0, "\(generate.output)")
        let port = FreePorts.consecutive(7)
        let oni = try ChildProcess(
            "oni",
            [
                "run", "--run-dir", run, "--max-env-steps", "0", "--workers", "1", "--envs-per-worker", "4", "--curve", keys,
                "--base-port", "\(port)", "--llm-url", llm.baseURL.absoluteString, "--annotation-cache", run + "-labels.sqlite",
            ] + OniRunTests.tinyNetwork)
        let labelled = eventually(seconds: 90) {
            oni.output.split(separator: "\n").contains { line in
                guard let range = line.range(of: "labelled ") else { return false }
                return Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0 >= 2
            }
        }
        #expect(labelled, "\(oni.output)")

        // With the keys, both servers answer; without them, neither does.
        let learner = try ChildProcess("oni", ["health", "learner", "--endpoint", "tcp://127.0.0.1:\(port + 3)", "--curve", keys])
        #expect(learner.wait(seconds: 30) == 0, "\(learner.output)")
        #expect(learner.output.hasPrefix("learner ok: env_steps="), "\(learner.output)")
        let annotator = try ChildProcess("oni", ["health", "annotator", "--endpoint", "tcp://127.0.0.1:\(port + 5)", "--curve", keys])
        #expect(annotator.wait(seconds: 30) == 0, "\(annotator.output)")
        #expect(annotator.output.hasPrefix("annotator ok: id=annotator-0"), "\(annotator.output)")
        let plain = try ChildProcess("oni", ["health", "learner", "--endpoint", "tcp://127.0.0.1:\(port + 3)", "--timeout-ms", "1000"])
        #expect(plain.wait(seconds: 30) == 1, "\(plain.output)")
        #expect(plain.output.contains("no answer from the learner"), "\(plain.output)")

        oni.signal(SIGINT)
        #expect(oni.wait(seconds: 60) == 0, "\(oni.output)")
        let learnerLog = (try? String(contentsOfFile: run + "/logs/learner.log", encoding: .utf8)) ?? ""
        #expect(learnerLog.contains("CURVE on"), "\(learnerLog)")
        #expect(learnerLog.contains("CURVE handshake failed"), "the keyless probe is logged: \(learnerLog)")
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        #expect(try store.messages().contains { $0.label != nil })
        let security = Dictionary(try store.metrics(names: ["security/admitted", "security/failed_handshakes"]).map { ($0.name, $0.value) }) { _, new in new }
        // The worker's two sockets, oni run's progress and status sockets, the keyed probe.
        #expect((security["security/admitted"] ?? 0) >= 3, "\(security)")
        #expect((security["security/failed_handshakes"] ?? 0) >= 1, "\(security)")
    }

    /// `oni exec-tied` (how `oni run` starts the local llama-server): the program dies with the
    /// process that started it, even when that one is SIGKILLed.
    @Test func aTiedProgramDiesWithItsParent() throws {
        let oni = ChildProcess.binDirectory.appendingPathComponent("oni").path
        let parent = Process()
        parent.executableURL = URL(fileURLWithPath: "/bin/sh")
        parent.arguments = ["-c", "'\(oni)' exec-tied -- /bin/sleep 300 & echo $!; wait"]
        let pipe = Pipe()
        parent.standardOutput = pipe
        try parent.run()
        let line = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        let pid = try #require(Int32(line.trimmingCharacters(in: .whitespacesAndNewlines)))
        // exec-tied replaced itself with sleep: the same pid, now sleeping.
        #expect(eventually(seconds: 10) {
            ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").hasPrefix("/bin/sleep")
        })
        // It answers SIGTERM: no signal is blocked (exec keeps the mask of the thread it ran on).
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        #expect(status.contains("SigBlk:\t0000000000000000"), "\(status)")
        kill(parent.processIdentifier, SIGKILL)
        parent.waitUntilExit()
        #expect(eventually(seconds: 10) { kill(pid, 0) != 0 || ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").contains(") Z ") },
            "the tied program outlived its parent")
        // A relative program is refused.
        let refused = try ChildProcess("oni", ["exec-tied", "--", "sleep", "1"])
        #expect(refused.wait(seconds: 10) != 0)
        #expect(refused.output.contains("absolute PROGRAM path"), "\(refused.output)")
    }

    @Test func aLearnerThatCannotStartFailsTheRunNamingIt() throws {
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let oni = try ChildProcess(
            "oni", ["run", "--llm", "none", "--run-dir", run, "--env", "grid:nowhere", "--workers", "1", "--base-port", "\(FreePorts.consecutive(7))"])
        let status = oni.wait(seconds: 60)
        #expect(status != nil && status != 0, "\(oni.output)")
        #expect(oni.output.contains("learner exited with status"), "\(oni.output)")
        #expect(oni.output.contains("unknown environment 'grid:nowhere'"), "\(oni.output)")
    }

    /// A worker that dies is restarted as a new incarnation (its own id and seed, so that its
    /// sequence numbers start afresh without looking like damage), and the run goes on.
    @Test func aDeadWorkerIsRestartedAndTheRunGoesOn() throws {
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let port = FreePorts.consecutive(7)
        let oni = try ChildProcess(
            "oni", ["run", "--llm", "none", "--run-dir", run, "--max-env-steps", "0", "--workers", "2", "--envs-per-worker", "2", "--base-port", "\(port)"]
                + OniRunTests.tinyNetwork)
        #expect(eventually(seconds: 60) { oni.output.contains("oni run: steps") }, "\(oni.output)")
        // Kill worker-1 of this run (its command line names this run's experience port).
        #expect(try Self.killAll(matching: "oni-worker --id worker-1 .*tcp://127.0.0.1:\(port)"), "no worker-1 process found")
        #expect(eventually(seconds: 30) { oni.output.contains("oni run: restarting worker-1 (1 of 5)") }, "\(oni.output)")
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        #expect(eventually(seconds: 60) {
            (try? store.database.scalarInt("SELECT count(*) FROM rollouts WHERE worker_id = 'worker-1.r1'")).flatMap { $0 } ?? 0 >= 3
        }, "\(oni.output)")
        oni.signal(SIGTERM)
        #expect(oni.wait(seconds: 60) == 0, "\(oni.output)")
        #expect(try StoreCheck.run(store).isClean)
    }

    /// --record-every 2: every other episode of each worker's first environment is recorded,
    /// whole, as an asciinema file in RUN_DIR/recordings.
    @Test func workersRecordEveryNthEpisode() throws {
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let oni = try ChildProcess(
            "oni", ["run", "--llm", "none", "--run-dir", run, "--max-env-steps", "6000", "--workers", "1", "--envs-per-worker", "2", "--record-every", "2"]
                + OniRunTests.tinyNetwork)
        #expect(oni.wait(seconds: 120) == 0, "\(oni.output)")
        let names = try FileManager.default.contentsOfDirectory(atPath: run + "/recordings").sorted()
        #expect(names.first == "worker-0-000000.cast" && names.contains("worker-0-000002.cast") && !names.contains("worker-0-000001.cast"), "\(names)")
        let lines = try String(contentsOfFile: run + "/recordings/worker-0-000000.cast", encoding: .utf8).split(separator: "\n")
        let header = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(header["version"] as? Int == 2)
        // The opening frame, one per step, and the last one says the episode ended.
        #expect(lines.count >= 3 && lines.last?.contains("(end)") == true, "\(lines.suffix(2))")
        #expect(lines[1].contains("Hello Agent") && lines[2].contains("action "))
    }

    /// Output that goes away (`oni run | head -1`) does not kill the run: it finishes in order.
    @Test func aRunOutlivesItsOutput() throws {
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let oni = ChildProcess.binDirectory.appendingPathComponent("oni").path
        let command = "\(oni) run --llm none --run-dir \(run) --max-env-steps 8000 --workers 1 --envs-per-worker 4 "
            + OniRunTests.tinyNetwork.joined(separator: " ") + " | head -n 1; echo \"status ${PIPESTATUS[0]}\""
        let shell = try ChildProcess("/bin/bash", ["-c", command], name: "pipe")
        #expect(shell.wait(seconds: 120) == 0, "\(shell.output)")
        #expect(shell.output.contains("status 0"), "\(shell.output)")
        let learnerLog = (try? String(contentsOfFile: run + "/logs/learner.log", encoding: .utf8)) ?? ""
        #expect(learnerLog.contains("learner stopped"), "\(learnerLog)")
        #expect(try RunStore(path: run + "/oni.sqlite", readOnly: true).lastLearnerEnvSteps() >= 8000)
    }

    /// The annotator is not needed for training to go on: when it dies it is restarted, the run
    /// continues, and labelling resumes.
    @Test func aDeadAnnotatorIsRestartedAndTheRunGoesOn() throws {
        let llm = try FakeLLMServer { message, _ in .reply(message.contains("key") ? "<label>yes</label>" : "<label>no</label>") }
        defer { llm.stop() }
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let port = FreePorts.consecutive(7)
        let oni = try ChildProcess(
            "oni",
            [
                "run", "--run-dir", run, "--max-env-steps", "0", "--workers", "1", "--envs-per-worker", "4", "--base-port", "\(port)",
                "--llm-url", llm.baseURL.absoluteString, "--annotation-cache", run + "-labels.sqlite",
            ] + OniRunTests.tinyNetwork)
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: run + "-labels.sqlite" + suffix) } }
        #expect(eventually(seconds: 60) { oni.output.contains("oni run: steps") }, "\(oni.output)")
        #expect(try Self.killAll(matching: "oni-annotator --bind tcp://127.0.0.1:\(port + 5)"), "no annotator process found")
        #expect(eventually(seconds: 30) { oni.output.contains("oni run: restarting annotator (1 of 5)") }, "\(oni.output)")
        let linesThen = oni.output.split(separator: "\n").count
        #expect(eventually(seconds: 60) { oni.output.split(separator: "\n").suffix(from: linesThen).contains { $0.hasPrefix("oni run: steps") } })
        oni.signal(SIGINT)
        #expect(oni.wait(seconds: 60) == 0, "\(oni.output)")
        let log = (try? String(contentsOfFile: run + "/logs/annotator.log", encoding: .utf8)) ?? ""
        #expect(log.components(separatedBy: "annotator started").count == 3, "\(log)")
    }

    @Test func sigtermStopsEveryChildCleanly() throws {
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let oni = try ChildProcess(
            "oni", ["run", "--llm", "none", "--run-dir", run, "--max-env-steps", "0", "--workers", "2", "--envs-per-worker", "2", "--base-port", "\(FreePorts.consecutive(7))"]
                + OniRunTests.tinyNetwork)
        #expect(eventually(seconds: 60) { oni.output.contains("oni run: steps") }, "\(oni.output)")
        oni.signal(SIGTERM)
        #expect(oni.wait(seconds: 30) == 0, "\(oni.output)")
        #expect(oni.output.contains("terminated (SIGTERM)"), "\(oni.output)")
        for role in ["learner", "worker-0", "worker-1"] {
            let log = (try? String(contentsOfFile: "\(run)/logs/\(role).log", encoding: .utf8)) ?? ""
            #expect(log.contains("stopp"), "\(role): \(log)")
        }
        // Every child is gone: nothing holds the run's ports.
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        #expect(try store.integrityCheck() == ["ok"])
    }
}
