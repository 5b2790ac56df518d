import Foundation
import OniAnnotation
import OniCore
import OniStorage
import OniTestSupport
import Testing

/// A chaos soak: a whole `oni run` (two workers, the annotator, a fake LLM server that fails for a
/// while) while a seeded schedule SIGKILLs workers, the annotator and the learner; `oni run`
/// restarts the first two itself, the learner comes back by `oni run --resume`. Then the
/// invariants: the store checks clean, no message has two different labels, no label the cache
/// holds is missing from the store, the step counter and the policy version never fall below what
/// was committed or checkpointed before a kill, and training went on. `ONI_CHAOS_EVENTS` and
/// `ONI_CHAOS_SEED` make it longer or another schedule (`deploy/tools/chaos.sh`).
@Suite(.serialized) struct ChaosSoakTests {
    struct Figures {
        var kills: [String: Int] = [:]
        var resumes = 0
        /// Resumes that took the reward model back from its checkpoint.
        var rewardModelResumes = 0
        /// Resident KiB of the learner and the annotator over the quiet end, one sample a second.
        var rss: [String: [Double]] = [:]
    }

    @Test func killsOfEveryRoleLoseNothing() throws {
        let environment = ProcessInfo.processInfo.environment
        let events = environment["ONI_CHAOS_EVENTS"].flatMap(Int.init) ?? 6
        var rng = SeededGenerator(seed: environment["ONI_CHAOS_SEED"].flatMap(UInt64.init) ?? 42)
        // The LLM fails (HTTP 500) for a stretch of its requests: labels wait and come later.
        let llm = try FakeLLMServer { message, number in
            (12..<30).contains(number % 60) ? .status(500) : .reply(message.contains("key") ? "<label>yes</label>" : "<label>no</label>")
        }
        defer { llm.stop() }
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("oni-chaos-\(UUID().uuidString)").path
        let cachePath = run + "-labels.sqlite"
        defer {
            try? FileManager.default.removeItem(atPath: run)
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: cachePath + suffix) }
        }
        let options = [
            "run", "--run-dir", run, "--max-env-steps", "0", "--workers", "2", "--envs-per-worker", "4", "--env", "grid:vault",
            "--llm-url", llm.baseURL.absoluteString, "--annotation-cache", cachePath, "--checkpoint-interval", "1",
            // A reward model (and its optimiser) to be checkpointed, killed and taken back too.
            "--reward", "classification",
        ] + OniRunTests.tinyNetwork
        var oni = try ChildProcess("oni", options, name: "chaos-oni")
        var figures = Figures()
        // Kills under the current oni run, which restarts each role at most five times.
        var sinceStart: [String: Int] = [:]
        #expect(eventually(seconds: 90) { oni.output.contains("oni run: steps") }, "\(oni.output)")

        for event in 0..<events {
            Thread.sleep(forTimeInterval: 2 + Double(rng.below(3000)) / 1000)
            // Workers most often, the annotator and the learner now and then; never a role past
            // oni run's five restarts, and the learner last only if there is time to resume.
            let roll = rng.below(10)
            let victim = roll < 5 ? "worker-\(roll % 2)" : roll < 7 ? "annotator" : "learner"
            if victim != "learner", sinceStart[victim, default: 0] >= 4 { continue }
            // A learner is killed once its reward model has a checkpoint to come back from.
            if victim == "learner" {
                #expect(eventually(seconds: 60) { FileManager.default.fileExists(atPath: run + "/checkpoints/reward_model.safetensors") })
            }
            guard let pid = Self.child(of: oni.pid, matching: victim == "learner" ? "oni-learner" : victim == "annotator" ? "oni-annotator" : "oni-worker --id \(victim)")
            else {
                Issue.record("event \(event): no \(victim) process under oni run\n\(oni.output.suffix(1500))")
                continue
            }
            kill(pid, SIGKILL)
            figures.kills[victim, default: 0] += 1
            sinceStart[victim, default: 0] += 1
            if victim != "learner" {
                let expected = "oni run: restarting \(victim) (\(sinceStart[victim]!) of 5)"
                #expect(eventually(seconds: 60) { oni.output.contains(expected) }, "\(oni.output.suffix(1500))")
                continue
            }
            // The learner's death ends that oni run; what it had committed and checkpointed is the floor.
            #expect(oni.wait(seconds: 60) != nil, "oni run went on without its learner")
            let committed = try RunStore(path: run + "/oni.sqlite", readOnly: true).lastLearnerEnvSteps()
            let checkpointed = Self.checkpointVersion(run)
            let rewardModelKept = FileManager.default.fileExists(atPath: run + "/checkpoints/reward_model.safetensors")
            let counterFloor = try Self.lastCounters(run)
            let logBefore = Self.learnerLog(run).count
            oni = try ChildProcess("oni", ["run", "--resume", "--run-dir", run], name: "chaos-oni-resumed")
            figures.resumes += 1
            sinceStart = [:]
            // Both lines: the checkpoint taken back, then the learner listening with its counters.
            #expect(eventually(seconds: 90) {
                let log = Self.learnerLog(run).dropFirst(logBefore)
                return log.contains("resumed training") && log.contains("resumed_env_steps=")
            }, "\(oni.output.suffix(1500))")
            let resumed = String(Self.learnerLog(run).dropFirst(logBefore))
            #expect(Self.number(after: "resumed_env_steps=", in: resumed) ?? -1 >= Int64(committed), "\(resumed.prefix(2000))")
            let trainingLine = resumed.split(separator: "\n").first { $0.contains("resumed training") }.map(String.init) ?? ""
            #expect(Self.number(after: "version=", in: trainingLine) ?? -1 >= checkpointed, "checkpointed \(checkpointed): \(resumed.prefix(2000))")
            if rewardModelKept {
                #expect(resumed.contains("reward model resumed") && !resumed.contains("reward model checkpoint unusable"), "\(resumed.prefix(3000))")
                figures.rewardModelResumes += 1
            }
            #expect(eventually(seconds: 60) { oni.output.contains("oni run: steps") }, "\(oni.output)")
            // Counters go on from the last snapshot the killed learner stored, never from zero.
            #expect(eventually(seconds: 30) {
                let now = (try? Self.lastCounters(run)) ?? [:]
                return counterFloor.allSatisfy { name, floor in (now[name] ?? -1) >= floor } && now.count >= counterFloor.count
            }, "counters below \(counterFloor)")
        }
        // Some quiet time for labels delayed by the outage, sampling the roles' memory.
        let quiet = environment["ONI_CHAOS_QUIET"].flatMap(Int.init) ?? 8
        let sampled = ["learner": Self.child(of: oni.pid, matching: "oni-learner"), "annotator": Self.child(of: oni.pid, matching: "oni-annotator")]
        for _ in 0..<quiet {
            for (role, pid) in sampled {
                if let pid, let kib = Self.residentKiB(pid) { figures.rss[role, default: []].append(kib) }
            }
            Thread.sleep(forTimeInterval: 1)
        }
        oni.signal(SIGINT)
        #expect(oni.wait(seconds: 90) == 0, "\(oni.output.suffix(2000))")

        // The store is sound, worker restarts included.
        let check = try ChildProcess("oni", ["store", "check", run], name: "chaos-check")
        #expect(check.wait(seconds: 120) == 0, "\(check.output)")
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        let conflicting = try store.database.scalarInt(
            "SELECT count(*) FROM (SELECT message_id FROM labels WHERE status = 'labelled' GROUP BY message_id HAVING count(DISTINCT label) > 1)") ?? -1
        #expect(conflicting == 0, "messages with two different labels")
        // Every label the cache holds for a message of this run is in the store too.
        let cache = try SQLiteLabelCache(path: cachePath)
        let labelled = try store.messages()
        let statement = try store.database.prepare("SELECT DISTINCT model, prompt_hash FROM labels WHERE status = 'labelled'")
        var keys: [(model: String, prompt: String)] = []
        while try statement.step() { keys.append((statement.text(0), statement.text(1))) }
        #expect(keys.count == 1, "one model and prompt labelled this run: \(keys)")
        let goal = Goal(argument: "default").text
        let lost = labelled.filter { message in
            message.label == nil
                && keys.contains { cache.label(for: LabelCacheKey(model: $0.model, promptHash: $0.prompt, goal: goal, message: message.text)) != nil }
        }
        #expect(lost.isEmpty, "labels in the cache but not in the store: \(lost.map(\.text))")
        let labels = labelled.filter { $0.label != nil }.count
        #expect(labels >= 3, "\(oni.output.suffix(1500))")
        let steps = try store.lastLearnerEnvSteps()
        let version = try store.database.scalarInt("SELECT max(value) FROM metrics WHERE name = 'learner/policy_version'") ?? 0
        #expect(steps > 0 && version > 0, "training went on")
        let memory = figures.rss.sorted { $0.key < $1.key }.map { role, samples in
            String(format: "%@ %.0f MiB, slope %.1f KiB/s", role, (samples.last ?? 0) / 1024, Self.slope(samples))
        }.joined(separator: "; ")
        print(
            "chaos: \(events) events, kills \(figures.kills.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")), "
                + "\(figures.resumes) resumes (\(figures.rewardModelResumes) with the reward model); \(steps) env steps, policy version \(version), \(labelled.count) messages, \(labels) labelled, "
                + "0 lost; resident memory over the last \(quiet) s: \(memory)")
    }

    /// The pid of the child of `parent` whose command line contains `pattern` (the newest).
    static func child(of parent: Int32, matching pattern: String) -> Int32? { childPIDs(of: parent, matching: pattern).last }

    /// The newest stored value of the learner's cumulative counters.
    static func lastCounters(_ run: String) throws -> [String: Double] {
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        defer { store.close() }
        return try store.latestMetrics(["learner/rollouts", "annotation/replies", "annotation/requests_sent", "learner/checkpoints_saved"])
    }

    static func learnerLog(_ run: String) -> String { (try? String(contentsOfFile: run + "/logs/learner.log", encoding: .utf8)) ?? "" }

    static func checkpointVersion(_ run: String) -> Int64 {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: run + "/checkpoints/policy.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return -1 }
        return (object["version"] as? NSNumber)?.int64Value ?? -1
    }

    /// The integer after the first `key` in `text`.
    static func number(after key: String, in text: String) -> Int64? {
        guard let range = text.range(of: key) else { return nil }
        return Int64(text[range.upperBound...].prefix { $0.isNumber })
    }

    static func residentKiB(_ pid: Int32) -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return nil }
        return Double(line.split(separator: " ").dropFirst().first ?? "")
    }

    /// Least-squares slope of evenly spaced samples (per sample).
    static func slope(_ samples: [Double]) -> Double {
        guard samples.count >= 2 else { return 0 }
        let n = Double(samples.count), xs = samples.indices.map(Double.init)
        let mx = xs.reduce(0, +) / n, my = samples.reduce(0, +) / n
        let covariance = zip(xs, samples).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let variance = xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
        return covariance / variance
    }
}
