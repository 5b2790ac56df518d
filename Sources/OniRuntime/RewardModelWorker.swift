import Foundation
import OniCore
import OniLearning
import Synchronization

/// Trains the text reward model (the classification or the ranking one) on its
/// own thread, so the learner's loop never waits for it, and publishes, per
/// model version, every known message's reward. The learner reads the latest
/// published table; a message that arrived after it gets its reward from the
/// next round (submitted as soon as it is seen).
final class RewardModelWorker: @unchecked Sendable {
    /// One round: training examples, then the texts to score.
    struct Job: Sendable {
        enum Examples: Sendable {
            /// Labelled messages, each with the LLM's confidence as its training weight.
            case labels(train: [(text: String, label: Float, weight: Float)], heldOut: [(text: String, label: Float)])
            case pairs(train: [(first: String, second: String, preference: Float)], heldOut: [(first: String, second: String, preference: Float)])
        }
        var examples: Examples
        var steps: Int
        /// Every known message and its occurrence count (the ranking reward's normalisation weights).
        var texts: [String]
        var counts: [Double]
    }

    /// What a round leaves: the model version, r_int per message text, and reward/* figures.
    struct Published: Sendable {
        var version = 0
        var rewards: [String: Double] = [:]
        var figures: [String: Double] = [:]
    }

    private let composition: RewardComposition
    private let queue = DispatchQueue(label: "oni.reward-model", qos: .utility)
    private let busy = Atomic<Bool>(false)
    /// Set by the last save: a round under way stops at its next step, so the learner's exit
    /// does not wait for a whole round (seconds in a debug build on a busy machine).
    private let closing = Atomic<Bool>(false)
    private let latest = Mutex(Published())
    // Touched only on `queue`.
    private var classifier: MessageClassifier
    private var ranker: MessageRanker
    private var rng = SeededGenerator(seed: 17)

    init(composition: RewardComposition, seed: UInt64) {
        self.composition = composition
        classifier = MessageClassifier(seed: seed &+ 101)
        ranker = MessageRanker(seed: seed &+ 103)
    }

    /// Starts the model from saved weights (a checkpoint, or `oni replay fit-reward`'s file);
    /// call before the first round. Returns the model version the file held.
    func load(from path: String) throws(RewardModelFileError) -> Int {
        switch composition.type {
        case .classification: try classifier.load(from: path)
        case .ranking: try ranker.load(from: path)
        default: throw .invalid(path: path, reason: "--reward \(composition.type.rawValue) has no model to load")
        }
        return composition.type == .ranking ? ranker.version : classifier.version
    }

    /// Saves the weights to `path` on the model's thread, after any running round; `done` gets the error, if any.
    func save(to path: String, done: @escaping @Sendable ((any Error)?) -> Void) {
        queue.async { [self] in
            do {
                try write(to: path)
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
        try queue.sync { try write(to: path) }
    }

    /// On `queue`: the model's weights and optimiser state to `path`.
    private func write(to path: String) throws {
        switch composition.type {
        case .classification: try classifier.save(to: path)
        case .ranking: try ranker.save(to: path)
        default: break
        }
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
        var rewards: [String: Double] = [:]
        let version: Int
        switch job.examples {
        case let .labels(train, heldOut):
            let started = Date()
            if job.steps > 0 {
                figures["reward/classifier_loss"] = classifier.train(on: train, steps: job.steps, rng: &rng, until: interrupted)
                figures["reward/train_ms"] = Date().timeIntervalSince(started) * 1000
            }
            figures["reward/classifier_examples"] = Double(train.count)
            if !heldOut.isEmpty {
                let p = classifier.probabilities(heldOut.map(\.text))
                let correct = zip(p, heldOut).filter { ($0 > composition.classificationThreshold) == ($1.label > 0.5) }.count
                figures["reward/classifier_heldout_accuracy"] = Double(correct) / Double(heldOut.count)
            }
            for (text, p) in zip(job.texts, classifier.probabilities(job.texts)) {
                rewards[text] = p > composition.classificationThreshold ? 1 : 0
            }
            version = classifier.version
        case let .pairs(train, heldOut):
            let started = Date()
            if job.steps > 0 {
                figures["reward/ranker_loss"] = ranker.train(on: train, steps: job.steps, rng: &rng, until: interrupted)
                figures["reward/train_ms"] = Date().timeIntervalSince(started) * 1000
            }
            figures["reward/ranker_pairs"] = Double(train.count)
            if let accuracy = ranker.accuracy(on: heldOut) { figures["reward/ranker_heldout_accuracy"] = accuracy }
            // Normalised by the mean and standard deviation of the score over the steps seen:
            // every known message weighted by its count.
            let scores = ranker.scores(job.texts)
            let total = max(job.counts.reduce(0, +), 1)
            let mean = zip(scores, job.counts).reduce(0) { $0 + $1.0 * $1.1 } / total
            let variance = zip(scores, job.counts).reduce(0) { $0 + $1.1 * ($1.0 - mean) * ($1.0 - mean) } / total
            let std = variance.squareRoot()
            for (text, score) in zip(job.texts, scores) {
                // Scores that barely differ (every judgement a tie) carry no signal: no reward.
                rewards[text] = std > 1e-3 && (score - mean) / std > composition.rankingThreshold ? 1 : 0
            }
            figures["reward/ranker_score_mean"] = mean
            figures["reward/ranker_score_std"] = std
            figures["reward/ranker_rewarded_messages"] = Double(rewards.values.filter { $0 > 0 }.count)
            version = ranker.version
        }
        figures["reward/model_version"] = Double(version)
        return Published(version: version, rewards: rewards, figures: figures)
    }
}
