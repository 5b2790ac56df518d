import Foundation
import OniCore
import Synchronization

/// Trains a text reward model (classifier, ranker) on its own thread, so the learner's loop never
/// waits for it, and publishes, per model version, every known message's reward (by message
/// id). The learner reads the latest published table; a message that arrived after it gets its
/// reward from the next round (submitted as soon as it is seen).
final class RewardModelWorker<Model: TrainedRewardModel>: @unchecked Sendable {
    /// One round: training examples, then the messages to score.
    struct Job: Sendable {
        var examples: RewardExamples<Model.Example>
        var steps: Int
        /// Every known message (id, text) and its occurrence count (the pay rule's weights).
        var ids: [UInt64]
        var texts: [String]
        var counts: [Double]
    }

    /// What a round leaves: the model version, r_int per message id, and reward/* figures.
    struct Published: Sendable {
        var version = 0
        var rewards: [UInt64: Double] = [:]
        var figures: [String: Double] = [:]
    }

    private let rule: any MessagePayRule
    private let queue = DispatchQueue(label: "oni.reward-model", qos: .utility)
    private let busy = Atomic<Bool>(false)
    /// Set by the last save: a round under way stops at its next step, so the learner's exit
    /// does not wait for a whole round (seconds in a debug build on a busy machine).
    private let closing = Atomic<Bool>(false)
    private let latest = Mutex(Published())
    // Touched only on `queue`.
    private let model: Model
    private var rng = SeededGenerator(seed: 17)

    init(model: Model, rule: any MessagePayRule) {
        self.model = model
        self.rule = rule
    }

    /// Starts the model from saved weights (a checkpoint, or `oni replay fit-reward`'s file);
    /// call before the first round. Returns the model version the file held.
    func load(from path: String) throws(RewardModelFileError) -> Int {
        try model.load(from: path)
        return model.version
    }

    /// Saves the weights to `path` on the model's thread, after any running round; `done` gets the error, if any.
    func save(to path: String, done: @escaping @Sendable ((any Error)?) -> Void) {
        queue.async { [self] in
            do {
                try model.save(to: path)
                done(nil)
            } catch {
                done(error)
            }
        }
    }

    /// Saves the weights to `path` and returns once they are on disk (after any running round):
    /// the last save before the learner exits.
    func saveNow(to path: String) throws {
        closing.store(true, ordering: .releasing)
        try queue.sync { try model.save(to: path) }
    }

    /// The latest published round.
    var published: Published { latest.withLock { $0 } }

    /// Whether a round is running now.
    var isBusy: Bool { busy.load(ordering: .acquiring) }

    /// Starts `job` on the worker's thread unless a round is already running; returns whether it started.
    @discardableResult
    func submit(_ job: Job) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return false }
        queue.async { [self] in
            let result = run(job)
            // A scoring-only round keeps the last training round's figures.
            latest.withLock { last in
                let figures = last.figures.merging(result.figures) { $1 }
                last = result
                last.figures = figures
            }
            busy.store(false, ordering: .releasing)
        }
        return true
    }

    private func run(_ job: Job) -> Published {
        let interrupted = { [self] in closing.load(ordering: .acquiring) }
        var figures: [String: Double] = [:]
        if job.steps > 0 {
            let started = Date()
            figures[Model.figureStem + "_loss"] = model.train(on: job.examples.train, steps: job.steps, rng: &rng, until: interrupted)
            figures["reward/train_ms"] = Date().timeIntervalSince(started) * 1000
        }
        figures[Model.examplesFigure] = Double(job.examples.train.count)
        let outputs = model.outputs(job.texts)
        let fitted = rule.fitted(outputs: outputs, counts: job.counts)
        figures.merge(fitted.figures) { $1 }
        if let accuracy = model.heldOutAccuracy(job.examples.heldOut, rule: fitted) {
            figures[Model.figureStem + "_heldout_accuracy"] = accuracy
        }
        var rewards: [UInt64: Double] = [:]
        for (id, output) in zip(job.ids, outputs) { rewards[id] = fitted.pay(output) }
        figures[Model.figureStem + "_rewarded_messages"] = Double(rewards.values.filter { $0 != 0 }.count)
        figures["reward/model_version"] = Double(model.version)
        return Published(version: model.version, rewards: rewards, figures: figures)
    }
}
