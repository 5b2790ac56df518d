import Foundation
import OniStorage
import OniTestSupport
import Testing

/// `oni run --single-process`: the same run, every role a thread of the one `oni` process.
@Suite(.serialized) struct SingleProcessRunTests {
    @Test func everyRoleRunsAsAThreadAndTheRunIsTheSame() throws {
        let llm = try FakeLLMServer { message, _ in .reply(message.contains("key") ? "<label>yes</label>" : "<label>no</label>") }
        defer { llm.stop() }
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("oni-single-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: run) }
        let oni = try ChildProcess(
            "oni",
            [
                "run", "--single-process", "--run-dir", run, "--max-env-steps", "16000", "--workers", "2", "--envs-per-worker", "4",
                "--llm-url", llm.baseURL.absoluteString, "--annotation-cache", run + "/labels.sqlite",
            ] + OniRunTests.tinyNetwork)
        // No role executable is started: the oni process has no children but its own threads.
        let started = eventually(seconds: 30) { (try? String(contentsOfFile: run + "/logs/worker-1.log", encoding: .utf8))?.contains("worker started") == true }
        #expect(started, "\(oni.output)")
        #expect(childPIDs(of: oni.pid).isEmpty, "no child processes")

        #expect(oni.wait(seconds: 180) == 0, "\(oni.output)")
        #expect(oni.output.split(separator: "\n").last?.hasPrefix("oni run: stopped (learner finished)") == true, "\(oni.output)")
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        #expect(try store.lastLearnerEnvSteps() >= 16000)
        let labelled = try store.messages().filter { $0.label != nil }
        #expect(!labelled.isEmpty && labelled.allSatisfy { $0.label == ($0.text.contains("key") ? 1 : 0) }, "\(oni.output)")
        let endpoints = try String(contentsOfFile: run + "/endpoints.json", encoding: .utf8)
        #expect(endpoints.contains("mem:"), "\(endpoints)")
        for role in ["learner", "annotator", "worker-0", "worker-1"] {
            #expect(FileManager.default.fileExists(atPath: run + "/logs/\(role).log"), "\(role)")
        }
        let refused = try ChildProcess("oni", ["run", "--single-process", "--curve", run, "--run-dir", run + "-x"], name: "curve")
        #expect(refused.wait(seconds: 30) != 0 && refused.output.contains("--curve"), "\(refused.output)")
    }

    /// A run whose policy is gone (killed before its first checkpoint) is not resumed with a new
    /// policy silently: refused, naming --fresh-weights, and continued with it.
    @Test func aResumeWithoutACheckpointIsRefusedUnlessFreshWeightsAreAskedFor() throws {
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("oni-fresh-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: run) }
        let first = try ChildProcess(
            "oni", ["run", "--single-process", "--llm", "none", "--run-dir", run, "--max-env-steps", "4000", "--envs-per-worker", "4"] + OniRunTests.tinyNetwork)
        #expect(first.wait(seconds: 120) == 0, "\(first.output)")
        try FileManager.default.removeItem(atPath: run + "/checkpoints")
        let refused = try ChildProcess("oni", ["run", "--resume", "--run-dir", run, "--max-env-steps", "8000", "--single-process"], name: "refused")
        #expect(refused.wait(seconds: 120) != 0, "\(refused.output)")
        let log = (try? String(contentsOfFile: run + "/logs/learner.log", encoding: .utf8)) ?? ""
        #expect(log.contains("holds no checkpoint") && log.contains("--fresh-weights"), "\(refused.output)\n\(log)")
        let fresh = try ChildProcess(
            "oni", ["run", "--resume", "--fresh-weights", "--run-dir", run, "--max-env-steps", "8000", "--single-process"], name: "fresh")
        #expect(fresh.wait(seconds: 120) == 0, "\(fresh.output)")
        #expect(try RunStore(path: run + "/oni.sqlite", readOnly: true).lastLearnerEnvSteps() >= 8000)
    }
}
