import Foundation
import Logging
import OniCore
import OniRuntime
import OniStorage
import OniTelemetry
import OniTestSupport
import OniTransport
import OniWire
import Testing

/// The three roles as real processes on loopback ports, with an
/// OpenAI-compatible LLM served from inside the test.
@Suite(.serialized) struct RolesOverSocketsTests {
    let logger = Logger(label: "oni.test.integration")

    /// Labels like a sensible model: progress for keys, doors, stairs and kills;
    /// a reply with no label for missed attacks; "no" for everything else.
    static func judge(_ message: String, _: Int) -> FakeLLMServer.Response {
        if message.contains("miss") { return .reply("I cannot tell from this message alone.") }
        let progress = ["key", "unlock", "staircase", "kill"].contains { message.contains($0) }
        return .reply(progress ? "The agent advances. <label>yes</label>" : "<label>no</label>")
    }

    struct Ports {
        let experience = FreePorts.one()
        let params = FreePorts.one()
        let metrics = FreePorts.one()
        let control = FreePorts.one()
        let annotator = FreePorts.one()
        func tcp(_ port: Int) -> String { "tcp://127.0.0.1:\(port)" }
    }

    func learner(_ ports: Ports, runDirectory: String, annotate: Bool, resume: Bool = false, extra: [String] = []) throws -> ChildProcess {
        var args = [
            "--run-dir", runDirectory, "--experience-bind", ports.tcp(ports.experience), "--params-bind", ports.tcp(ports.params),
            "--metrics-bind", ports.tcp(ports.metrics), "--control-bind", ports.tcp(ports.control), "--metrics-interval", "0.2",
            "--annotation-timeout", "5", "--llm-batch-size", "4",
            // A small network keeps training quick in debug builds.
            "--embedding", "2", "--filters", "2", "--hidden", "16", "--checkpoint-interval", "0.3",
        ]
        if annotate { args += ["--annotator", ports.tcp(ports.annotator)] }
        if resume { args.append("--resume") }
        return try ChildProcess("oni-learner", args + extra)
    }

    func worker(_ ports: Ports, id: String = "worker-0", extra: [String] = []) throws -> ChildProcess {
        try ChildProcess(
            "oni-worker",
            [
                "--id", id, "--env", "grid:keyroom", "--envs-per-worker", "4", "--rollout-length", "16", "--experience",
                ports.tcp(ports.experience), "--params", ports.tcp(ports.params), "--heartbeat-seconds", "0.5",
            ] + extra, name: id)
    }

    func status(_ ports: Ports, _ context: ZMQContext) -> [String: Double] {
        ((try? StatusClient.query(ports.tcp(ports.control), transport: context, timeoutMilliseconds: 2000, logger: logger)) ?? nil)?.values ?? [:]
    }

    /// An annotator asking `llm`, with its label cache inside the run directory.
    func annotator(_ ports: Ports, llm: FakeLLMServer, run: String) throws -> ChildProcess {
        try ChildProcess(
            "oni-annotator",
            ["--bind", ports.tcp(ports.annotator), "--llm-url", llm.baseURL.absoluteString, "--llm-retries", "1", "--annotation-cache", run + "/label-cache.sqlite"])
    }

    func temporaryRun() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("oni-run-\(UUID().uuidString)").path
    }

    @Test func rolloutsAreStoredMessagesLabelledMetricsTailedAndShutdownIsClean() throws {
        let llm = try FakeLLMServer(responder: Self.judge)
        defer { llm.stop() }
        let ports = Ports()
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let context = ZMQContext()

        let learner = try learner(ports, runDirectory: run, annotate: true)
        let annotator = try annotator(ports, llm: llm, run: run)
        let worker = try worker(ports)
        let tail = try ChildProcess("oni", ["metrics", "--follow", ports.tcp(ports.metrics), "--json", "--count", "3"], name: "metrics")

        let labelled = eventually(seconds: 60) {
            let s = status(ports, context)
            return (s["messages/labelled"] ?? 0) >= 4 && (s["learner/rollouts"] ?? 0) >= 20 && (s["workers/live"] ?? 0) == 1
                && s["annotation/annotators_live"] == 1 && (s["learner/policy_version"] ?? 0) >= 5
        }
        #expect(labelled, "learner: \(learner.output)\nannotator: \(annotator.output)")

        // The follower printed three JSON snapshots and exited by itself.
        #expect(tail.wait(seconds: 30) == 0, "\(tail.output)")
        let snapshots = tail.output.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap {
            JSONLinesMetricsSink.parse(String($0))
        }
        #expect(snapshots.count == 3, "\(tail.output)")
        #expect(snapshots.allSatisfy { $0.values["workers/live"] != nil })

        // The worker takes up the learner's policy, then sends rollouts acted with it.
        #expect(eventually(seconds: 60) { worker.output.contains("acting with the learner's policy") }, "\(worker.output)")
        let rolloutsThen = status(ports, context)["learner/rollouts"] ?? 0
        #expect(eventually(seconds: 60) { (status(ports, context)["learner/rollouts"] ?? 0) >= rolloutsThen + 5 })
        // With an annotator the learner trains on retrieval reward: labelled progress messages pay.
        #expect(
            eventually(seconds: 60) { (status(ports, context)["reward/intrinsic_per_step"] ?? 0) > 0 },
            "\(status(ports, context).filter { $0.key.hasPrefix("reward/") || $0.key.hasPrefix("messages/") })")
        #expect(learner.output.contains("reward=1.0·r_ext + 0.1·retrieval(msg)/N_episode(msg)^3.0"), "\(learner.output)")
        let final = status(ports, context)
        #expect(worker.stop() == 0, "\(worker.output)")
        #expect(annotator.stop() == 0, "\(annotator.output)")
        #expect(learner.stop() == 0, "\(learner.output)")
        #expect(learner.output.contains("learner stopped"))

        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        #expect(try store.integrityCheck() == ["ok"])
        #expect(try store.count(.rollouts) >= Int(final["learner/rollouts"] ?? 1))
        let stored = try store.rollouts(afterID: 0, limit: 1)
        let first = try Rollout(wire: Oni_V1_Rollout(serializedBytes: stored[0].protobuf))
        #expect(first.workerID == "worker-0" && first.numEnvs == 4 && first.numSteps == 16)
        // The worker took up the learner's policy: later rollouts carry its versions.
        #expect(worker.output.contains("acting with the learner's policy"), "\(worker.output)")
        let versions = try store.database.prepare("SELECT max(policy_version) FROM rollouts")
        #expect(try versions.step())
        #expect(versions.int(0) >= 1, "worker: \(worker.output)\nlearner: \(learner.output)")
        #expect(final["learner/loss_value"]?.isFinite == true, "\(final.filter { $0.key.hasPrefix("learner/") })")
        let messages = Dictionary(uniqueKeysWithValues: try store.messages().map { ($0.text, $0) })
        #expect(messages["It's a wall."]?.label == 0)
        #expect(messages["You find a key."]?.label == 1)
        #expect(messages["It's a wall."]!.count > 0)
        // The intrinsic reward paid is stored with each rollout: 0.1·label/N³ where a labelled message was
        // shown (0 before its label came back), 0 elsewhere, and some of it paid.
        var paidTotal: Float = 0
        for row in try store.rollouts(afterID: 0, limit: 100_000) {
            let rollout = try Rollout(wire: Oni_V1_Rollout(serializedBytes: row.protobuf))
            let paid = try #require(try store.paidIntrinsicReward(rolloutID: row.id))
            #expect(paid.rewardType == "retrieval" && paid.rewards.count == rollout.stepCount)
            for k in paid.rewards.indices where paid.rewards[k] != 0 {
                let index = Int(rollout.messageIndex[k])
                #expect(index >= 0 && messages[rollout.messages[index]]?.label == 1)
                #expect(abs(paid.rewards[k] - 0.1 / pow(Float(rollout.messageEpisodeCount[k]), 3)) < 1e-6)
            }
            paidTotal += paid.rewards.reduce(0, +)
        }
        #expect(paidTotal > 0)
        // `oni episodes show` names the actions and shows what was paid.
        let episode = try store.database.scalarInt("SELECT max(id) FROM episodes WHERE rollout_id IS NOT NULL") ?? 0
        let show = try ChildProcess("oni", ["episodes", "show", run, "\(episode)"], name: "show")
        #expect(show.wait(seconds: 60) == 0, "\(show.output)")
        #expect(["north", "east", "south", "west", "search"].contains { show.output.contains("action \($0) (") }, "\(show.output.prefix(2000))")
        #expect(show.output.contains("intrinsic ") && show.output.contains("(retrieval v"), "\(show.output.prefix(2000))")
        // Each message went to the LLM once, except unparseable replies, which are asked once more.
        var asked: [String: Int] = [:]
        for message in llm.receivedMessages { asked[message, default: 0] += 1 }
        for (message, times) in asked {
            #expect(times == (message.contains("miss") ? 2 : 1), "\(message) asked \(times) times")
        }
        let prompts = try store.database.prepare("SELECT count(*) FROM labels WHERE prompt_hash = '' OR model = ''")
        #expect(try prompts.step())
        #expect(prompts.int(0) == 0)
        // The template behind every label's hash is on record in the annotator's cache.
        let hashes = try store.database.prepare("SELECT DISTINCT prompt_hash FROM labels WHERE status = 'labelled'")
        let cache = try SQLiteLabelCache(path: run + "/label-cache.sqlite")
        while try hashes.step() { #expect(cache.prompt(hash: hashes.text(0))?.hasPrefix("oni-label-v2") == true) }
    }

    /// With --reward classification the learner trains its classifier on the labels as they arrive.
    @Test func classificationRewardModelTrainsOnTheLabels() throws {
        let llm = try FakeLLMServer(responder: Self.judge)
        defer { llm.stop() }
        let ports = Ports()
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let context = ZMQContext()
        let learner = try learner(ports, runDirectory: run, annotate: true, extra: ["--reward", "classification"])
        let annotator = try annotator(ports, llm: llm, run: run)
        let worker = try worker(ports)
        let trained = eventually(seconds: 120) {
            let s = status(ports, context)
            return (s["reward/model_version"] ?? 0) >= 1 && (s["reward/classifier_examples"] ?? 0) >= 2
        }
        #expect(trained, "\(status(ports, context).filter { $0.key.hasPrefix("reward/") || $0.key.hasPrefix("messages/") })")
        #expect(learner.output.contains("classification(msg)"), "\(learner.output)")
        #expect(worker.stop() == 0)
        #expect(annotator.stop() == 0)
        #expect(learner.stop() == 0)
        // The model's weights are kept beside the policy and come back with --resume.
        #expect(FileManager.default.fileExists(atPath: run + "/checkpoints/reward_model.safetensors"))
        let again = Ports()
        let resumed = try self.learner(again, runDirectory: run, annotate: false, resume: true, extra: ["--reward", "classification"])
        #expect(eventually(seconds: 30) { resumed.output.contains("reward model resumed") }, "\(resumed.output)")
        #expect(resumed.stop() == 0)

        // `oni watch` shows what the run's classifier pays each step (the run's reward and
        // coefficients from a config.json, as `oni run` writes one).
        try Data(#"{"options": {"reward": "classification", "llm-reward-coeff": 0.1, "beta-count-exponent": 3}}"#.utf8)
            .write(to: URL(fileURLWithPath: run + "/config.json"))
        let oniPath = ChildProcess.binDirectory.appendingPathComponent("oni").path
        let watched = try PseudoTerminal.output(of: "\(oniPath) watch \(run) --fps 100 --max-frames 60", input: nil)
        #expect(watched.contains("(classification, N="), "\(watched.suffix(1500))")

        // Fitted offline from the stored labels, then a fresh learner starts from it.
        let fitted = run + "-fitted.safetensors"
        defer { try? FileManager.default.removeItem(atPath: fitted) }
        let fit = try ChildProcess("oni", ["replay", "fit-reward", run, "--reward", "classification", "--steps", "100", "--output", fitted], name: "fit")
        #expect(fit.wait(seconds: 60) == 0, "\(fit.output)")
        #expect(fit.output.contains("fitted a classification model on") && fit.output.contains("--reward-init \(fitted)"), "\(fit.output)")
        let fresh = temporaryRun(), third = Ports()
        defer { try? FileManager.default.removeItem(atPath: fresh) }
        let started = try self.learner(third, runDirectory: fresh, annotate: false, extra: ["--reward", "classification", "--reward-init", fitted])
        #expect(eventually(seconds: 30) { started.output.contains("reward model starts from a fitted one") }, "\(started.output)")
        #expect(started.stop() == 0)
        // A file that is not a classifier is refused, naming why.
        let wrong = try self.learner(Ports(), runDirectory: temporaryRun(), annotate: false, extra: ["--reward", "ranking", "--reward-init", fitted])
        #expect(wrong.wait(seconds: 30) != 0)
        #expect(wrong.output.contains("holds a classification model, not a ranking one"), "\(wrong.output)")
        let ranking = try ChildProcess("oni", ["replay", "fit-reward", run, "--reward", "ranking"], name: "fit-ranking")
        #expect(ranking.wait(seconds: 30) == 1)
        #expect(ranking.output.contains("holds no judged pairs"), "\(ranking.output)")
    }

    /// Pairs judged like `judge` judges messages: progress beats none, equal is a tie.
    static func comparePairs(_ message: String, _ number: Int) -> FakeLLMServer.Response {
        let lines = message.split(separator: "\n").map(String.init)
        guard lines.count == 2, lines[0].hasPrefix("First message: ") else { return judge(message, number) }
        func progress(_ text: String) -> Bool { ["key", "unlock", "staircase", "kill"].contains { text.contains($0) } }
        let (a, b) = (progress(lines[0]), progress(lines[1]))
        return .reply(a == b ? "<label>tie</label>" : (a ? "<label>first</label>" : "<label>second</label>"))
    }

    /// With --reward ranking the learner asks for pairs, not single labels, stores the judgements
    /// and trains its Bradley–Terry model on them; a restarted learner has the pairs back.
    @Test func rankingRewardModelTrainsOnJudgedPairs() throws {
        let llm = try FakeLLMServer(responder: Self.comparePairs)
        defer { llm.stop() }
        let ports = Ports()
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let context = ZMQContext()
        let learner = try learner(ports, runDirectory: run, annotate: true, extra: ["--reward", "ranking", "--ranking-pairs", "3"])
        let annotator = try annotator(ports, llm: llm, run: run)
        let worker = try worker(ports)
        let trained = eventually(seconds: 120) {
            let s = status(ports, context)
            return (s["reward/model_version"] ?? 0) >= 1 && (s["pairs/judged"] ?? 0) >= 2
        }
        #expect(trained, "\(status(ports, context).filter { $0.key.hasPrefix("reward/") || $0.key.hasPrefix("pairs/") })")
        #expect(learner.output.contains("ranking(msg)"), "\(learner.output)")
        #expect(worker.stop() == 0)
        #expect(annotator.stop() == 0)
        #expect(learner.stop() == 0)
        #expect(llm.receivedMessages.allSatisfy { $0.hasPrefix("First message: ") }, "\(llm.receivedMessages)")

        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        let pairs = try store.pairs()
        #expect(pairs.filter { $0.preference != nil }.count >= 2)
        #expect(try store.count(.labels) == 0)
        #expect(try StoreCheck.run(store).isClean)
        store.close()

        // Resume: the judged pairs come back (ONI's ranking loses them; we must not).
        let again = Ports()
        let resumed = try self.learner(again, runDirectory: run, annotate: false, extra: ["--reward", "ranking", "--resume"])
        #expect(eventually(seconds: 30) { (status(again, context)["pairs/judged"] ?? 0) >= Double(pairs.filter { $0.preference != nil }.count) })
        #expect(resumed.stop() == 0)
    }

    /// `oni replay annotate` labels a finished run's messages with another "model", keeps the old
    /// labels beside the new ones, and says which changed.
    @Test func replayAnnotateRelabelsStoredMessages() throws {
        let context = ZMQContext()
        let ports = Ports()
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let learner = try learner(ports, runDirectory: run, annotate: false)
        let worker = try worker(ports)
        #expect(eventually(seconds: 60) { (status(ports, context)["messages/distinct"] ?? 0) >= 3 }, "\(learner.output)")
        #expect(worker.stop() == 0)
        #expect(learner.stop() == 0)

        let first = try FakeLLMServer(responder: Self.judge)
        defer { first.stop() }
        let labelled = try ChildProcess("oni", ["replay", "annotate", run, "--llm-url", first.baseURL.absoluteString, "--no-cache"], name: "relabel-1")
        #expect(labelled.wait(seconds: 60) == 0, "\(labelled.output)")
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        let messages = try store.messages()
        let parseable = messages.filter { !$0.text.contains("miss") }
        #expect(labelled.output.contains("\(messages.count) messages asked of default"), "\(labelled.output)")
        #expect(labelled.output.contains("0 changed, \(parseable.count) newly labelled"), "\(labelled.output)")

        // The opposite judge: every label flips.
        let contrary = try FakeLLMServer { message, number in
            guard case let .reply(text) = Self.judge(message, number) else { return .status(500) }
            return .reply(text.contains("<label>yes</label>") ? "<label>no</label>" : (text.contains("<label>no</label>") ? "<label>yes</label>" : text))
        }
        defer { contrary.stop() }
        let flipped = try ChildProcess("oni", ["replay", "annotate", run, "--llm-url", contrary.baseURL.absoluteString, "--no-cache"], name: "relabel-2")
        #expect(flipped.wait(seconds: 60) == 0, "\(flipped.output)")
        #expect(flipped.output.contains("\(parseable.count) changed, 0 newly labelled"), "\(flipped.output)")
        #expect(flipped.output.contains("0 → 1  It's a wall.") || !parseable.contains { $0.text == "It's a wall." }, "\(flipped.output)")
        for message in try store.messages() where !message.text.contains("miss") {
            #expect(message.label == (message.text.contains("key") || message.text.contains("unlock") || message.text.contains("staircase") || message.text.contains("kill") ? 0 : 1), "\(message.text)")
        }
        #expect(try store.count(.labels) >= 2 * parseable.count)

        // Refused while a learner holds the run directory.
        let again = Ports()
        let busy = try self.learner(again, runDirectory: run, annotate: false, resume: true)
        #expect(eventually(seconds: 30) { !status(again, context).isEmpty })
        let refused = try ChildProcess("oni", ["replay", "annotate", run, "--llm-url", first.baseURL.absoluteString], name: "relabel-3")
        #expect(refused.wait(seconds: 30) == 1)
        #expect(refused.output.contains("stop the learner"), "\(refused.output)")
        #expect(busy.stop() == 0)
    }

    /// --store-fraction keeps that share of the rollouts, evenly spread; every episode is still recorded.
    @Test func retentionKeepsAFractionOfTheRollouts() throws {
        let context = ZMQContext()
        let ports = Ports()
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let learner = try learner(ports, runDirectory: run, annotate: false, extra: ["--store-fraction", "0.25"])
        let worker = try worker(ports)
        #expect(eventually(seconds: 60) { (status(ports, context)["learner/rollouts"] ?? 0) >= 24 }, "\(learner.output)")
        #expect(worker.stop() == 0)
        #expect(learner.stop() == 0)
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        let received = Int(try store.metricSnapshots(last: 1).last?.values["learner/rollouts"] ?? 0)
        let kept = try store.count(.rollouts)
        #expect(received >= 24 && abs(kept - received / 4) <= 1, "kept \(kept) of \(received)")
        let unattached = try store.database.scalarInt("SELECT count(*) FROM episodes WHERE rollout_id IS NULL") ?? 0
        #expect(try store.count(.episodes) > 0 && unattached > 0)
        #expect(try StoreCheck.run(store).isClean)
    }

    /// A run's stored rollouts, replayed into a fresh learner, are all received as replay and trained on.
    @Test func storedRolloutsReplayIntoAnotherLearner() throws {
        let context = ZMQContext()
        let source = temporaryRun(), target = temporaryRun()
        defer { for run in [source, target] { try? FileManager.default.removeItem(atPath: run) } }
        let first = Ports()
        let learner = try learner(first, runDirectory: source, annotate: false)
        let worker = try worker(first)
        #expect(eventually(seconds: 30) { (status(first, context)["store/written"] ?? 0) >= 20 }, "\(learner.output)")
        #expect(worker.stop() == 0)
        #expect(learner.stop() == 0)
        let stored = try RunStore(path: source + "/oni.sqlite", readOnly: true).count(.rollouts)
        #expect(stored > 0)

        let second = Ports()
        // Batches smaller than the replayed experience: a slow machine may store only ~14 rollouts of 64 steps.
        let fresh = try self.learner(second, runDirectory: target, annotate: false, extra: ["--batch-size", "256"])
        let replay = try ChildProcess("oni", ["replay", "rollouts", source, "--to", second.tcp(second.experience)], name: "replay")
        #expect(replay.wait(seconds: 60) == 0, "\(replay.output)")
        #expect(replay.output.contains("sent \(stored) of \(stored) rollouts"), "\(replay.output)")
        let received = eventually(seconds: 30) { Int(status(second, context)["replay/rollouts"] ?? 0) == stored }
        // The trainer takes them in batches on its own thread: the update follows the last rollout.
        let trained = eventually(seconds: 30) { (status(second, context)["learner/policy_version"] ?? 0) >= 1 }
        let s = status(second, context)
        #expect(received, "\(s.filter { $0.key.hasPrefix("replay/") || $0.key.hasPrefix("learner/") })")
        #expect(trained, "trained on replayed experience: \(s.filter { $0.key.hasPrefix("learner/") })")
        #expect(s["workers/live"] == 0 && s["env/episodes"] == 0)  // replay is neither a worker nor live episodes
        #expect(fresh.stop() == 0, "\(fresh.output)")
    }

    @Test func learnerKilledMidRunResumesAndWorkersReconnect() throws {
        let ports = Ports()
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let context = ZMQContext()
        var learner = try learner(ports, runDirectory: run, annotate: false)
        let worker = try worker(ports)
        // Killed once it has stored experience and written a checkpoint (every 0.3 s here).
        #expect(eventually(seconds: 30) {
            let s = status(ports, context)
            return (s["store/written"] ?? 0) >= 20 && (s["learner/checkpoints_saved"] ?? 0) >= 1
        }, "\(learner.output)")

        learner.signal(SIGKILL)
        _ = learner.wait(seconds: 10)
        // Whatever was committed before the kill is intact and readable.
        let before: (rollouts: Int, messages: [RunStore.MessageRow])
        do {
            let store = try RunStore(path: run + "/oni.sqlite")
            #expect(try store.integrityCheck() == ["ok"])
            before = (try store.count(.rollouts), try store.messages())
        }
        #expect(before.rollouts > 0)

        // Without --resume the directory is refused, untouched, with the way out in the message.
        let refused = try self.learner(ports, runDirectory: run, annotate: false)
        #expect(refused.wait(seconds: 20) == 1)
        #expect(refused.output.contains("already holds a run") && refused.output.contains("--resume"), "\(refused.output)")
        #expect(try RunStore(path: run + "/oni.sqlite", readOnly: true).count(.rollouts) == before.rollouts)

        learner = try self.learner(ports, runDirectory: run, annotate: false, resume: true)
        let resumed = eventually(seconds: 30) {
            let s = status(ports, context)
            return (s["learner/rollouts"] ?? 0) >= 10 && (s["workers/live"] ?? 0) == 1
        }
        #expect(resumed, "learner: \(learner.output)\nworker: \(worker.output)")
        #expect(learner.output.contains("resumed_messages=\(before.messages.count)"))
        // The policy came back from the checkpoint the killed learner had written.
        #expect(learner.output.contains("resumed training"), "\(learner.output)")
        // And trains on past the checkpoint's version.
        let resumedLine = learner.output.split(separator: "\n").first { $0.contains("resumed training") } ?? ""
        let checkpointVersion = Double(resumedLine.split(separator: " ").first { $0.hasPrefix("version=") }?.dropFirst(8) ?? "") ?? .infinity
        #expect(eventually(seconds: 60) { (status(ports, context)["learner/policy_version"] ?? 0) > checkpointVersion }, "\(status(ports, context))")
        #expect(worker.stop() == 0)
        #expect(learner.stop() == 0)

        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        #expect(try store.count(.rollouts) > before.rollouts)
        let after = Dictionary(uniqueKeysWithValues: try store.messages().map { ($0.id, $0) })
        for message in before.messages {
            // Ids are stable across the restart and counts only grow.
            #expect(after[message.id]?.text == message.text)
            #expect((after[message.id]?.count ?? 0) >= message.count)
        }
    }

    @Test func controlSocketAnswersEvenAGarbageRequest() throws {
        let ports = Ports()
        let run = temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let learner = try learner(ports, runDirectory: run, annotate: false)
        defer { learner.stop() }
        let context = ZMQContext()
        #expect(eventually(seconds: 20) { !status(ports, context).isEmpty })
        let req = try ZMQSocket(context: context, type: .req)
        defer { req.close() }
        try req.setReceiveTimeout(milliseconds: 5000)
        try req.connect(ports.tcp(ports.control))
        try req.send(Data("not a frame".utf8))
        let reply = try req.receive()
        #expect(reply != nil)
        if let reply, case let .metrics(metrics) = try FrameCodec().decode(reply.data) {
            #expect(metrics.values["learner/frames_refused"] == 1)
        } else {
            Issue.record("no metrics reply")
        }
    }
}
