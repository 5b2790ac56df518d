import Foundation
import OniLearning

/// When the learner writes a checkpoint, and which it keeps: one every `intervalSeconds` (and on
/// shutdown) over the previous one, and a milestone copy each time the env steps pass a multiple of
/// `keepEvery` (0 = none), for learning curves over checkpoints.
public struct Checkpointer {
    public let store: CheckpointStore
    public let intervalSeconds: Double
    public let keepEvery: UInt64
    /// When the last checkpoint was written (seconds, monotonic).
    public private(set) var lastSaved: Double
    /// The last milestone kept, in units of `keepEvery` env steps.
    public private(set) var lastMilestone: UInt64

    /// `envSteps`: where the run starts (a resumed run keeps no milestone for steps already passed).
    public init(store: CheckpointStore, intervalSeconds: Double, keepEvery: UInt64, now: Double, envSteps: UInt64) {
        self.store = store
        self.intervalSeconds = intervalSeconds
        self.keepEvery = keepEvery
        lastSaved = now
        lastMilestone = keepEvery > 0 ? envSteps / keepEvery : 0
    }

    public func due(now: Double, envSteps: UInt64) -> Bool {
        now - lastSaved >= intervalSeconds || (keepEvery > 0 && envSteps / keepEvery > lastMilestone)
    }

    /// Writes `trainer`'s checkpoint and, when one was passed, the milestone; returns the
    /// milestone's env steps if one was kept.
    public mutating func save(_ trainer: APPOTrainer, envSteps: UInt64, env: String, now: Double) throws -> UInt64? {
        lastSaved = now
        try store.save(trainer, envSteps: envSteps, env: env)
        guard keepEvery > 0, envSteps / keepEvery > lastMilestone else { return nil }
        lastMilestone = envSteps / keepEvery
        try store.keepMilestone(envSteps: lastMilestone * keepEvery)
        return lastMilestone * keepEvery
    }
}
