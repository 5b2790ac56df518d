import Foundation
import OniCore
import OniEnvironments
import OniLearning
import OniNeural

/// Plays fresh episodes with a saved policy — no training, no LLM — and reports how it does.
///
/// Episode k starts from seed `seed + k`. The episodes are split across `threads` threads,
/// each with its own copy of the network and up to `envsPerThread` environments stepped
/// together; greedy play gives the same episodes for any split, sampled play the same for the
/// same seed and split.
public struct Evaluator {
    public struct Options: Sendable {
        public var env: String
        public var episodes = 20
        public var seed: UInt64 = 1_000_000
        /// Take the most probable action instead of sampling one.
        public var greedy = false
        public var threads = 1
        public var envsPerThread = 16
        /// Episodes still running after this many steps are cut short (counted as truncated).
        public var maxEpisodeSteps = 100_000

        public init(env: String) {
            self.env = env
        }
    }

    public let network: PolicyNetwork<Float>
    public let options: Options

    /// Checks that the network fits the environment (a clear error if not).
    public init(network: PolicyNetwork<Float>, options: Options) throws {
        let environment = try EnvironmentFactory.make(name: options.env)
        guard let shape = PolicyArchitecture(environment: environment), network.architecture.fits(shape),
              network.architecture.actions == environment.actionCount
        else {
            throw RuntimeError.invalidConfiguration(
                "the checkpoint's network (\(network.architecture.signature)) does not fit \(options.env) "
                    + "(\(PolicyArchitecture(environment: environment)?.signature ?? "no map observation"), \(environment.actionCount) actions); "
                    + "pass the --env it was trained on")
        }
        guard options.episodes > 0, options.threads > 0, options.envsPerThread > 0 else {
            throw RuntimeError.invalidConfiguration("--episodes, --threads and the environments per thread must be positive")
        }
        self.network = network
        self.options = options
    }

    /// Plays every episode; `progress` is called with the number finished so far (from any
    /// thread). `observe`, when given, sees every frame (the reset and each step; an episode's
    /// frames in order, on one thread) and stops the evaluation by returning false.
    public func run(
        progress: @escaping @Sendable (Int) -> Void = { _ in }, observe: (@Sendable (EvaluationFrame) -> Bool)? = nil
    ) throws -> [EpisodeResult] {
        let threads = min(options.threads, options.episodes)
        // Episode k goes to thread k % threads.
        let shares = (0..<threads).map { t in Array(stride(from: t, to: options.episodes, by: threads)) }
        let collected = Collected(threads: threads)
        let networks = (0..<threads).map { t -> PolicyNetwork<Float> in
            if t == 0 { return network }
            let copy = PolicyNetwork<Float>(architecture: network.architecture, seed: 0)
            copy.copyWeights(from: network)
            return copy
        }
        Parallel.forEach(threads) { t in
            do {
                let played = try play(episodes: shares[t], network: networks[t], observe: observe, stopped: collected) { done in
                    progress(collected.finished(done, thread: t))
                }
                collected.store(played, thread: t)
            } catch {
                collected.fail("\(error)")
            }
        }
        if let failure = collected.failure { throw RuntimeError.invalidConfiguration(failure) }
        return collected.results.flatMap { $0 }.sorted { $0.index < $1.index }
    }

    /// What the threads hand back.
    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var results: [[EpisodeResult]]
        private var counts: [Int]
        private(set) var failure: String?

        init(threads: Int) {
            results = Array(repeating: [], count: threads)
            counts = Array(repeating: 0, count: threads)
        }

        func finished(_ done: Int, thread: Int) -> Int {
            lock.withLock {
                counts[thread] = done
                return counts.reduce(0, +)
            }
        }

        func store(_ played: [EpisodeResult], thread: Int) { lock.withLock { results[thread] = played } }
        private var stopRequested = false
        var isStopped: Bool { lock.withLock { stopRequested } }
        func stop() { lock.withLock { stopRequested = true } }
        func fail(_ text: String) { lock.withLock { failure = failure ?? text } }
    }

    /// One thread's episodes, `envsPerThread` at a time.
    private func play(
        episodes: [Int], network: PolicyNetwork<Float>, observe: ((EvaluationFrame) -> Bool)?, stopped: Collected, progress: (Int) -> Void
    ) throws -> [EpisodeResult] {
        let b = min(options.envsPerThread, episodes.count)
        let environments = try (0..<b).map { _ in try EnvironmentFactory.make(name: options.env) }
        let fields = environments[0].observationFields
        let index = (chars: fields.firstIndex { $0.name == "chars" }, status: fields.firstIndex { $0.name == "status" },
                     message: fields.firstIndex { $0.name == "message" })
        guard let charsIndex = index.chars else { throw RuntimeError.invalidConfiguration("\(options.env) has no map to see") }
        var buffers = fields.map { [UInt8](repeating: 0, count: b * $0.byteCount) }
        let actions = network.architecture.actions
        let stateSize = network.architecture.stateSize
        var state = [Float](repeating: 0, count: b * stateSize)
        var rng = SeededGenerator(seed: options.seed &+ UInt64(episodes[0]) &* 0x9E37_79B9)

        var queue = episodes[...]
        var slot: [Running?] = Array(repeating: nil, count: b)
        var results: [EpisodeResult] = []
        let actionNames = environments[0].actionNames
        func show(_ i: Int, _ frame: EvaluationFrame) {
            if let observe, !observe(frame) { stopped.stop() }
        }
        func start(_ i: Int) throws {
            guard let next = queue.popFirst() else { slot[i] = nil; return }
            let seed = options.seed &+ UInt64(next)
            let opening = try environments[i].reset(seed: seed)
            slot[i] = Running(index: next, seed: seed)
            for j in 0..<stateSize { state[i * stateSize + j] = 0 }
            if observe != nil {
                show(i, EvaluationFrame(
                    episode: next, step: 0, board: environments[i].render(), message: opening, action: nil, reward: 0, episodeReturn: 0, done: false))
            }
        }
        for i in 0..<b { try start(i) }

        while slot.contains(where: { $0 != nil }) && !stopped.isStopped {
            for (f, field) in fields.enumerated() {
                buffers[f].withUnsafeMutableBytes { raw in
                    for i in 0..<b where slot[i] != nil {
                        environments[i].writeObservation(
                            field: f, into: UnsafeMutableRawBufferPointer(rebasing: raw[(i * field.byteCount)..<((i + 1) * field.byteCount)]))
                    }
                }
            }
            let (logits, _, next) = buffers[charsIndex].withUnsafeBufferPointer { chars in
                withOptionalInt32(index.status.map { buffers[$0] }) { status in
                    withOptionalBytes(index.message.map { buffers[$0] }) { message in
                        network.forward(
                            ObservationRows(chars: chars, status: status, message: message), steps: 1, envs: b, state: state,
                            resets: [UInt8](repeating: 0, count: b))
                    }
                }
            }
            state = next
            let logProbs = Categorical.logSoftmax(logits, actions: actions)
            let chosen = options.greedy
                ? (0..<b).map { i in (0..<actions).max { logProbs[i * actions + $0] < logProbs[i * actions + $1] }! }
                : Categorical.sample(logProbs: logProbs, actions: actions, rng: &rng)
            for i in 0..<b {
                guard var running = slot[i] else { continue }
                let outcome = try environments[i].step(chosen[i])
                running.record(outcome, action: chosen[i])
                let truncated = !outcome.done && running.length >= options.maxEpisodeSteps
                if observe != nil {
                    show(i, EvaluationFrame(
                        episode: running.index, step: running.length, board: environments[i].render(), message: outcome.message,
                        action: actionNames[chosen[i]], reward: outcome.reward, episodeReturn: running.episodeReturn, done: outcome.done || truncated))
                }
                if outcome.done || truncated {
                    results.append(running.result(success: outcome.success, truncated: truncated, statistics: environments[i].episodeStatistics))
                    progress(results.count)
                    try start(i)
                } else {
                    slot[i] = running
                }
            }
        }
        return results
    }

    /// An episode being played.
    private struct Running {
        let index: Int
        let seed: UInt64
        var episodeReturn = 0.0
        var length = 0
        var messages: [String: Int] = [:]
        var actionCounts: [Int: Int] = [:]

        init(index: Int, seed: UInt64) {
            self.index = index
            self.seed = seed
        }

        mutating func record(_ outcome: StepOutcome, action: Int) {
            episodeReturn += Double(outcome.reward)
            length += 1
            if !outcome.message.isEmpty { messages[outcome.message, default: 0] += 1 }
            actionCounts[action, default: 0] += 1
        }

        func result(success: Bool, truncated: Bool, statistics: [String: Double]) -> EpisodeResult {
            EpisodeResult(
                index: index, seed: seed, episodeReturn: episodeReturn, length: length, success: success, truncated: truncated,
                statistics: statistics, messages: messages)
        }
    }
}

/// One evaluation episode.
public struct EpisodeResult: Codable, Sendable, Equatable {
    public var index: Int
    public var seed: UInt64
    public var episodeReturn: Double
    public var length: Int
    public var success: Bool
    /// Cut short by the evaluation's step limit rather than ended by the game.
    public var truncated: Bool
    /// The environment's own figures at the end (NetHack: score, depth, experience_level, gold).
    public var statistics: [String: Double]
    /// Messages shown, with how often.
    public var messages: [String: Int]

    public init(
        index: Int, seed: UInt64, episodeReturn: Double, length: Int, success: Bool, truncated: Bool, statistics: [String: Double],
        messages: [String: Int]
    ) {
        self.index = index
        self.seed = seed
        self.episodeReturn = episodeReturn
        self.length = length
        self.success = success
        self.truncated = truncated
        self.statistics = statistics
        self.messages = messages
    }
}

private func withOptionalInt32<R>(_ bytes: [UInt8]?, _ body: (UnsafeBufferPointer<Int32>?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0.bindMemory(to: Int32.self)) }
}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBufferPointer { body($0) }
}

/// One frame of an evaluation episode, for recordings and `oni watch`.
public struct EvaluationFrame: Sendable {
    public var episode: Int
    /// 0 after the reset, then the number of steps taken.
    public var step: Int
    /// The environment's picture (`render()`): map and status.
    public var board: String
    /// The game's message after the step (the opening message at step 0).
    public var message: String
    /// The action's name; nil at step 0.
    public var action: String?
    public var reward: Float
    public var episodeReturn: Double
    /// The episode ended (or was cut at the step limit) with this step.
    public var done: Bool

    public init(
        episode: Int, step: Int, board: String, message: String, action: String?, reward: Float, episodeReturn: Double, done: Bool
    ) {
        self.episode = episode
        self.step = step
        self.board = board
        self.message = message
        self.action = action
        self.reward = reward
        self.episodeReturn = episodeReturn
        self.done = done
    }

    /// The screen, with Oni's line under the picture.
    public func screen(extra: String = "") -> Screen {
        var info = "episode \(episode)  step \(step)"
        if let action { info += "  action \(action)  reward \(reward)" }
        info += String(format: "  return %.2f", episodeReturn) + extra + (done ? "  (end)" : "")
        return Screen(message: message, board: board, info: info)
    }
}
