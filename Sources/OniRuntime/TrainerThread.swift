import Foundation
import OniCore
import OniLearning

/// The learner's trainer: owns the policy and its optimiser and runs APPO
/// updates on a thread of its own, so taking in experience, answering status
/// requests and talking to the annotator never wait for an update.
///
/// Rollouts arrive as `TrainingBatch`es (intrinsic reward already composed);
/// once `batchSamples` environment steps are queued the thread takes them as
/// one batch. Each rollout is checked against the policy-lag bound when it is
/// taken, not when it arrived. Anything else that touches the network
/// (Params, checkpoints) goes through `withTrainer`, between updates.
public final class TrainerThread: @unchecked Sendable {
    /// How batches are made.
    public struct Settings: Sendable, Equatable {
        /// Environment steps per update (whole rollouts, at least one).
        public var batchSamples: Int
        /// Rollouts whose policy is more than this many versions behind when their batch is formed are skipped.
        public var maxPolicyLag: Int64

        public init(batchSamples: Int, maxPolicyLag: Int64) {
            self.batchSamples = batchSamples
            self.maxPolicyLag = maxPolicyLag
        }
    }

    /// What the trainer has done so far, read by the learner's loop for its metrics.
    public struct Progress: Sendable {
        /// The policy's version (updates applied).
        public var version: Int64 = 0
        /// Namespaced statistics of the last update.
        public var stats: [String: Double] = [:]
        /// learner/rollouts_too_old, learner/random_rollouts, …
        public var counters: [String: Double] = [:]
        /// Versions between the learned and the acting policy, of the rollouts trained on.
        public var lags = RollingWindow(capacity: 100)
        /// Seconds spent updating and waiting for a full batch; samples trained; updates done.
        public var updateSeconds = 0.0, waitSeconds = 0.0
        public var samplesTrained = 0, updates = 0
        /// Floating-point operations the updates did (`APPOTrainer.lastUpdateFLOPs`).
        public var flops = 0.0
        /// Where the last update's time went.
        public var lastTiming = APPOTrainer.UpdateTiming()
    }

    private let trainer: APPOTrainer
    private let settings: Settings
    /// Guards the queue, the progress and `stopping`.
    private let state = NSCondition()
    /// Held for every update and every `withTrainer`: nothing reads the network while it changes.
    private let trainerLock = NSLock()
    private var queue: [TrainingBatch] = []
    private var queued = 0
    private var stopping = false
    private var finished = false
    private var progress = Progress()

    /// The counters the trainer keeps (in `Progress.counters`), which a resumed run continues.
    public static let counterNames = ["learner/rollouts_too_old", "learner/rollouts_foreign_version", "learner/random_rollouts"]

    /// Continues a run's counters (`counterNames`) from their stored values; call before `start`.
    public func resume(counters stored: [String: Double]) {
        state.withLock { for name in Self.counterNames { if let value = stored[name] { progress.counters[name] = value } } }
    }

    /// Runs on the trainer's thread after every update, with the network still locked (e.g. to encode Params).
    private let afterUpdate: (APPOTrainer) -> Void

    public init(trainer: APPOTrainer, settings: Settings, afterUpdate: @escaping (APPOTrainer) -> Void = { _ in }) {
        self.trainer = trainer
        self.settings = settings
        self.afterUpdate = afterUpdate
        progress.version = trainer.version
    }

    /// The network's shape (fixed for the trainer's life).
    public var architecture: PolicyArchitecture { trainer.network.architecture }

    /// Starts the thread.
    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = "oni-trainer"
        thread.start()
    }

    /// Queues a rollout for training.
    public func submit(_ batch: TrainingBatch) {
        state.lock()
        queue.append(batch)
        queued += batch.samples
        state.signal()
        state.unlock()
    }

    /// Environment steps queued and not yet taken into a batch.
    public var queuedSamples: Int {
        state.lock()
        defer { state.unlock() }
        return queued
    }

    /// A copy of the trainer's progress.
    public var snapshot: Progress {
        state.lock()
        defer { state.unlock() }
        return progress
    }

    /// The policy's version now.
    public var version: Int64 {
        state.lock()
        defer { state.unlock() }
        return progress.version
    }

    /// Runs `body` with the trainer between two updates.
    public func withTrainer<R>(_ body: (APPOTrainer) throws -> R) rethrows -> R {
        trainerLock.lock()
        defer { trainerLock.unlock() }
        return try body(trainer)
    }

    /// Ends the thread after the update in progress; rollouts still queued are not trained on.
    public func stop() {
        state.lock()
        stopping = true
        state.broadcast()
        while !finished { state.wait() }
        state.unlock()
    }

    /// Waits until `version` updates have been applied or `timeout` seconds pass; true if reached.
    public func wait(forVersion target: Int64, timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        state.lock()
        defer { state.unlock() }
        while progress.version < target {
            guard state.wait(until: deadline) else { return progress.version >= target }
        }
        return true
    }

    private func run() {
        while let batch = nextBatch() {
            trainerLock.lock()
            let start = ContinuousClock.now
            let stats = trainer.update(batch)
            let seconds = Self.seconds(since: start)
            let version = trainer.version, timing = trainer.lastTiming, flops = trainer.lastUpdateFLOPs
            afterUpdate(trainer)
            trainerLock.unlock()
            state.lock()
            progress.version = version
            progress.stats = stats
            progress.updateSeconds += seconds
            let samples = batch.reduce(0) { $0 + $1.samples }
            progress.samplesTrained += samples
            progress.flops += flops
            progress.updates += 1
            progress.lastTiming = timing
            state.broadcast()
            state.unlock()
        }
        state.lock()
        finished = true
        state.broadcast()
        state.unlock()
    }

    /// Waits for `batchSamples` queued steps, then takes whole rollouts of the first one's length
    /// from the front until the batch is full, skipping those past the lag bound. Nil when stopping.
    private func nextBatch() -> [TrainingBatch]? {
        state.lock()
        defer { state.unlock() }
        while true {
            let waitStart = ContinuousClock.now
            while !stopping && queued < settings.batchSamples { state.wait() }
            progress.waitSeconds += Self.seconds(since: waitStart)
            if stopping { return nil }
            var batch: [TrainingBatch] = [], samples = 0, kept: [TrainingBatch] = []
            for rollout in queue {
                guard samples < settings.batchSamples, batch.isEmpty || rollout.steps == batch[0].steps else {
                    kept.append(rollout)
                    continue
                }
                queued -= rollout.samples
                if let reason = refusal(rollout) {
                    progress.counters[reason, default: 0] += 1
                    continue
                }
                batch.append(rollout)
                samples += rollout.samples
            }
            queue = kept
            if !batch.isEmpty { return batch }
        }
    }

    /// Why a rollout is not trained on now, as the counter to raise; nil to train on it.
    private func refusal(_ rollout: TrainingBatch) -> String? {
        // Replayed experience is off-policy by design (another run's versions): V-trace corrects it.
        guard !rollout.replay else { return nil }
        // A uniform-random rollout (-1) counts as acting with the version before the first;
        // a version this learner has not published comes from another learner's params.
        guard rollout.policyVersion >= -1, rollout.policyVersion <= progress.version else { return "learner/rollouts_foreign_version" }
        if rollout.policyVersion == -1 {
            // Uniform-random play is not a stale policy: a worker plays so until its first Params
            // (after a resume from version V that would be a "lag" of V + 1, and skipping it would
            // spend the step budget on nothing). V-trace corrects it like any behaviour policy.
            progress.counters["learner/random_rollouts", default: 0] += 1
            return nil
        }
        let lag = progress.version - rollout.policyVersion
        guard lag <= settings.maxPolicyLag else { return "learner/rollouts_too_old" }
        progress.lags.append(Double(lag))
        return nil
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
