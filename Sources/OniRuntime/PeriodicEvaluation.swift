import Foundation
import Logging
import OniLearning
import OniNeural

/// Evaluations during training (`--eval-every STEPS --eval-episodes N`): each time the env steps
/// pass a multiple, a copy of the current policy plays N fresh episodes on a thread of its own —
/// training never waits for it — and the result becomes `eval/*` metrics. Episodes start from
/// the same seeds every time, so successive evaluations compare the policy, not the luck.
final class PeriodicEvaluation: @unchecked Sendable {
    let every: UInt64
    let options: Evaluator.Options
    private let logger: Logger
    private let lock = NSLock()
    private var running = false
    private var finished: (envSteps: UInt64, version: Int64, summary: EvaluationSummary, seconds: Double)?
    /// Multiples of `every` already evaluated (or skipped while one was running).
    private var lastMultiple: UInt64 = 0
    private(set) var completed = 0

    init(every: UInt64, episodes: Int, env: String, logger: Logger) {
        self.every = every
        var options = Evaluator.Options(env: env)
        options.episodes = episodes
        options.envsPerThread = min(episodes, 8)
        options.threads = 1
        self.options = options
        self.logger = logger
    }

    /// Resumes counting from `envSteps` (a resumed run does not evaluate the multiples behind it).
    func start(at envSteps: UInt64) { lastMultiple = envSteps / every }

    /// Whether an evaluation should start now.
    func due(envSteps: UInt64) -> Bool {
        guard envSteps / every > lastMultiple else { return false }
        return lock.withLock { !running }
    }

    /// Plays the episodes with `network` (a copy the caller no longer touches) on a new thread.
    func begin(network: PolicyNetwork<Float>, version: Int64, envSteps: UInt64) {
        lastMultiple = envSteps / every
        lock.withLock { running = true }
        let options = self.options, logger = self.logger
        // The copy is handed over: nothing else touches it.
        let handed = UncheckedSendable(network)
        let thread = Thread { [self] in
            let started = Date()
            do {
                let results = try Evaluator(network: handed.value, options: options).run()
                let summary = EvaluationSummary(results)
                lock.withLock { finished = (envSteps, version, summary, Date().timeIntervalSince(started)) }
            } catch {
                logger.error("evaluation failed", metadata: ["error": "\(error)"])
            }
            lock.withLock { running = false }
        }
        thread.name = "oni-evaluation"
        thread.start()
    }

    /// The newest finished evaluation as metrics, once.
    func takeMetrics() -> [String: Double]? {
        guard let done = lock.withLock({ () -> (envSteps: UInt64, version: Int64, summary: EvaluationSummary, seconds: Double)? in
            defer { finished = nil }
            return finished
        }) else { return nil }
        completed += 1
        var metrics: [String: Double] = [
            "eval/return": done.summary.meanReturn, "eval/return_se": done.summary.standardErrorReturn,
            "eval/success": done.summary.successRate, "eval/length": done.summary.meanLength,
            "eval/env_steps": Double(done.envSteps), "eval/policy_version": Double(done.version),
            "eval/episodes": Double(done.summary.episodes), "eval/seconds": done.seconds, "eval/evaluations": Double(completed),
        ]
        for (name, value) in done.summary.statistics { metrics["eval/\(name)"] = value.mean }
        logger.info(
            "evaluated", metadata: [
                "env_steps": "\(done.envSteps)", "return": "\(String(format: "%.3f ± %.3f", done.summary.meanReturn, done.summary.standardErrorReturn))",
                "success": "\(done.summary.successRate)", "episodes": "\(done.summary.episodes)",
            ])
        return metrics
    }
}
