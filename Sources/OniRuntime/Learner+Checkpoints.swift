import Foundation
import Logging
import OniAnnotation
import OniCore
import OniLearning
import OniRewards
import OniStorage
import OniTelemetry
import OniTransport
import OniWire

/// Taking back a run directory's state, and checkpoints of the policy and the reward model.
extension Learner {
    /// What the run directory already holds, if anything worth resuming.
    func existingRun(storePath: String, runDirectory: URL) throws -> String? {
        var found: [String] = []
        if FileManager.default.fileExists(atPath: storePath) {
            let store = try RunStore(path: storePath, readOnly: true)
            defer { store.close() }
            let steps = try store.lastLearnerEnvSteps(), rollouts = try store.count(.rollouts), messages = try store.count(.messages)
            if steps > 0 || rollouts > 0 || messages > 0 { found.append("\(steps) env steps, \(messages) messages") }
        }
        if FileManager.default.fileExists(atPath: CheckpointStore(runDirectory: runDirectory).latest.path) { found.append("a policy checkpoint") }
        return found.isEmpty ? nil : found.joined(separator: ", ")
    }

    /// Takes back what the run's store holds (messages, labels, pairs, pending questions, counters);
    /// returns the trainer's counters, for the trainer when it starts.
    func restore(storePath: String) throws -> [String: Double] {
        guard FileManager.default.fileExists(atPath: storePath) else { return [:] }
        let store = try RunStore(path: storePath)
        defer { store.close() }
        let asking = config.annotatorEndpoint == nil ? nil : intrinsic.reward.annotation
        for row in try store.messages() {
            registry.restore(row)
            if !row.settled && asking == .labels { annotation.ask(about: .message(row.id), failedBefore: row.failures, now: now) }
        }
        for row in try store.pairs() {
            pairs.restore(row)
            if !row.settled && asking == .pairs { annotation.ask(about: .pair(row.id), failedBefore: row.failures, now: now) }
        }
        // Counters go on from their last stored values (a metrics snapshot is written every
        // --metrics-interval; what a killed learner counted after its last one is not kept).
        let stored = try store.latestMetrics(
            ExperienceIntake.counterNames + Self.cumulativeCounters + TrainerThread.counterNames + ["annotation/timeouts"])
        intake.resume(envSteps: try store.lastLearnerEnvSteps(), episodes: UInt64(try store.count(.episodes)), counters: stored)
        for name in Self.cumulativeCounters { if let value = stored[name] { counters[name] = value } }
        annotation.resume(timedOutRequests: Int(stored["annotation/timeouts"] ?? 0))
        _ = registry.takeDirty()
        return stored.filter { TrainerThread.counterNames.contains($0.key) }
    }

    /// The learner's own counters that add up over a run (not rates or gauges): a resumed run
    /// continues them.
    static let cumulativeCounters = [
        "annotation/backend_errors", "annotation/disagreed", "annotation/duplicate_results", "annotation/late_replies", "annotation/replies",
        "annotation/requests_sent", "annotation/unknown_messages", "annotation/unparseable", "learner/checkpoint_failures",
        "learner/checkpoints_saved", "learner/foreign_hellos", "learner/foreign_rollouts", "learner/milestones_kept",
        "learner/rollouts_untrainable", "learner/rollouts_wrong_env",
    ]


    /// Loads the newest usable checkpoint of the run directory, if any.
    func resumeTraining(_ trainer: APPOTrainer, runDirectory: URL) throws {
        let store = CheckpointStore(runDirectory: runDirectory)
        defer {
            checkpointer = Checkpointer(
                store: store, intervalSeconds: config.checkpointIntervalSeconds, keepEvery: config.keepCheckpointsEvery, now: now, envSteps: envSteps)
            // The reward model's first save may come before the policy's, which would make the folder.
            try? FileManager.default.createDirectory(at: store.directory, withIntermediateDirectories: true)
        }
        switch store.load(into: trainer) {
        case .none:
            guard config.resume, envSteps > 0 else { break }
            // The run has trained, and its policy is gone (killed before its first checkpoint).
            guard config.freshWeights else {
                throw RuntimeError.invalidConfiguration(
                    "--resume: \(store.directory.path) holds no checkpoint, although the run has \(envSteps) env steps; "
                        + "pass --fresh-weights to go on with a new policy")
            }
            logger.warning("no checkpoint: the policy starts afresh (--fresh-weights)", metadata: ["env_steps": "\(envSteps)"])
        case let .loaded(metadata, skipped):
            for problem in skipped { logger.error("checkpoint skipped; using the previous one", metadata: ["problem": "\(problem)"]) }
            logger.info("resumed training", metadata: ["version": "\(metadata.version)", "checkpoint_env_steps": "\(metadata.envSteps)"])
        case let .unusable(problems):
            for problem in problems { logger.error("checkpoint unusable", metadata: ["problem": "\(problem)"]) }
            // Resuming means continuing this policy: silently starting afresh would mislead.
            throw RuntimeError.invalidConfiguration(
                "--resume: no usable checkpoint in \(store.directory.path) (\(problems.map(\.description).joined(separator: "; ")))")
        }
    }

    /// Where the reward model's weights are kept beside the policy.
    static func rewardModelCheckpoint(_ runDirectory: URL) -> String {
        runDirectory.appendingPathComponent("checkpoints/reward_model.safetensors").path
    }

    /// The reward model starts from the run's own checkpoint when resuming, else from --reward-init.
    func startRewardModel(runDirectory: URL) throws {
        guard let weights = intrinsic.reward.weights else { return }
        let own = Self.rewardModelCheckpoint(runDirectory)
        if config.resume, FileManager.default.fileExists(atPath: own) {
            do {
                let version = try weights.load(from: own)
                logger.info("reward model resumed", metadata: ["path": "\(own)", "version": "\(version)"])
                return
            } catch {
                // The labels and pairs are in the store: the model is retrained from them.
                logger.error("reward model checkpoint unusable; retraining from the stored labels", metadata: ["error": "\(error)"])
            }
        }
        if let path = config.rewardInit {
            do {
                let version = try weights.load(from: path)
                logger.info("reward model starts from a fitted one", metadata: ["path": "\(path)", "version": "\(version)"])
            } catch {
                throw RuntimeError.invalidConfiguration("--reward-init: \(error)")
            }
        }
    }

    /// Saves the policy and the reward model; the `last` save (the learner stopping) waits until
    /// the reward model is written, the periodic ones leave it to the model's thread.
    func saveCheckpoint(last: Bool = false) {
        guard let trainer, var checkpointer else { return }
        defer { self.checkpointer = checkpointer }
        if let weights = intrinsic.reward.weights {
            let logger = self.logger, path = Self.rewardModelCheckpoint(checkpointer.store.directory.deletingLastPathComponent())
            if last {
                do { try weights.saveNow(to: path) } catch { logger.error("reward model not saved", metadata: ["error": "\(error)"]) }
            } else {
                weights.save(to: path) { error in
                    if let error { logger.error("reward model not saved", metadata: ["error": "\(error)"]) }
                }
            }
        }
        do {
            let envSteps = self.envSteps, env = config.env, now = self.now
            let milestone = try trainer.withTrainer { try checkpointer.save($0, envSteps: envSteps, env: env, now: now) }
            counters["learner/checkpoints_saved", default: 0] += 1
            if milestone != nil { counters["learner/milestones_kept", default: 0] += 1 }
        } catch {
            counters["learner/checkpoint_failures", default: 0] += 1
            logger.error("checkpoint not saved", metadata: ["error": "\(error)"])
        }
    }
}
