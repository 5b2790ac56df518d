import Logging
import OniCore

/// One of a worker's environments, closed and made anew when it fails, so that one bad game
/// costs its episode (ended as truncated) and not the worker.
///
/// Used from one thread at a time (its group's), like the environment it holds.
final class EnvironmentSlot: @unchecked Sendable {
    /// Makes a fresh instance of the environment.
    typealias Maker = @Sendable () throws -> any Environment

    private(set) var environment: any Environment
    private let make: Maker
    private let logger: Logger
    /// How many fresh instances a reset tries before it gives up (and the worker with it).
    static let resetAttempts = 3
    /// Instances that failed since `takeFailures()` last ran.
    private var failures = 0
    /// Instances that failed over the slot's life.
    private(set) var totalFailures = 0
    /// The message the last episode opened with.
    private(set) var opening = ""

    init(make: @escaping Maker, logger: Logger) throws {
        self.make = make
        self.logger = logger
        environment = try make()
    }

    /// Starts an episode; an instance that fails is replaced and the reset tried again, up to
    /// `resetAttempts` instances, after which the last fault is thrown.
    @discardableResult
    func reset(seed: UInt64) throws -> String {
        var attempt = 1
        while true {
            do {
                opening = try environment.reset(seed: seed)
                return opening
            } catch {
                try replace(after: error, doing: "reset (seed \(seed))", makeAnother: attempt < Self.resetAttempts)
                guard attempt < Self.resetAttempts else { throw error }
                attempt += 1
            }
        }
    }

    /// Steps; a fault ends the episode as truncated (no reward, no message) and replaces the
    /// instance, which the caller then resets like any finished one.
    func step(_ action: Int) throws -> StepOutcome {
        do {
            return try environment.step(action)
        } catch {
            try replace(after: error, doing: "step")
            return StepOutcome(reward: 0, done: true, success: false, message: "", truncated: true)
        }
    }

    /// The failures since the last call.
    func takeFailures() -> Int {
        defer { failures = 0 }
        return failures
    }

    /// Counts the failure and, unless this was the last attempt, makes a new instance.
    private func replace(after fault: EnvironmentFault, doing what: String, makeAnother: Bool = true) throws {
        failures += 1
        totalFailures += 1
        logger.warning(
            makeAnother ? "environment failed; closing it and making a new one" : "environment failed again; giving up",
            metadata: ["during": "\(what)", "error": "\(fault)", "failures": "\(totalFailures)"])
        if makeAnother { environment = try make() }
    }
}
