import ArgumentParser
import Foundation
import OniAnnotation
import OniLearning
import OniOptions
import OniRewards
import OniRuntime
import OniStorage

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch a saved policy play, live in the terminal.",
        discussion: """
            Loads a checkpoint (a .safetensors file, or RUN_DIR for its newest) and plays fresh \
            episodes at --fps frames per second: the game's message, the map and status line, \
            the action's name, the step's reward and, from the run's store, the LLM's label of \
            the message and (for the retrieval reward) the intrinsic reward it earns. Plain ANSI: \
            works over SSH and in tmux. q quits, as does Ctrl-C.
            """)

    @Argument(help: "A checkpoint file, or a run directory.") var path: String
    @Option(help: "Environment (default: the one the checkpoint was trained on).") var env: String?
    @Option(help: "Episodes to play.") var episodes = 3
    @Option(help: "Seed of the first episode.") var seed: UInt64 = 1_000_000
    @Option(help: "Frames per second.") var fps = 10.0
    @Flag(help: "Take the most probable action instead of sampling one.") var greedy = false
    @Option(help: "Stop after this many frames (0 = at the end of the episodes).") var maxFrames = 0

    func validate() throws {
        guard fps > 0, episodes > 0, maxFrames >= 0 else { throw ValidationError("--fps and --episodes must be positive, --max-frames ≥ 0") }
    }

    func run() throws {
        _ = RoleLogging.bootstrap(level: "error")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return fail("\(path) does not exist") }
        let runDirectory = isDirectory.boolValue ? URL(fileURLWithPath: path) : EvaluateCommand.runDirectory(holding: URL(fileURLWithPath: path))
        let checkpoint = isDirectory.boolValue ? CheckpointStore(runDirectory: URL(fileURLWithPath: path)).latest : URL(fileURLWithPath: path)
        let loaded: (network: PolicyNetwork<Float>, metadata: CheckpointMetadata)
        do { loaded = try CheckpointStore.loadPolicy(from: checkpoint) } catch { return fail("\(error)") }
        guard let environment = env ?? loaded.metadata.env else { return fail("\(checkpoint.path) does not record its environment; pass --env") }
        var options = Evaluator.Options(env: environment)
        options.episodes = episodes
        options.seed = seed
        options.greedy = greedy
        options.envsPerThread = 1
        let evaluator: Evaluator
        do { evaluator = try Evaluator(network: loaded.network, options: options) } catch { return fail("\(error)") }
        let judge = runDirectory.map(MessageJudge.init) ?? MessageJudge()

        let stop = StopSignal()
        let sources = stop.installSignalHandlers()
        defer { sources.forEach { $0.cancel() } }
        let keyboard = RawKeyboard()
        defer { keyboard.restore() }
        let interval = 1 / fps
        let frames = FrameCounter()
        _ = try evaluator.run(observe: { frame in
            let started = Date()
            let extra = judge.describe(frame)
            Console.write(frame.screen(extra: "").terminalText + extra + "\r\n(q quits)\r\n")
            let shown = frames.increment()
            if keyboard.pressed("q") || stop.isStopped || (maxFrames > 0 && shown >= maxFrames) { return false }
            Thread.sleep(forTimeInterval: max(0, interval - Date().timeIntervalSince(started)))
            return true
        })
        Console.write("\r\n")
    }

    private func fail(_ text: String) {
        Console.line("oni watch: \(text)")
        Self.exit(withError: ExitCode.failure)
    }
}

/// The LLM's label of each message (from the run's store) and the intrinsic reward a step earns
/// by the run's own reward, coefficient and β: retrieval from the labels, classification and
/// ranking from the run's saved model (checkpoints/reward_model.safetensors) with its pay rule
/// fitted to the stored messages and their counts (the learner fits it to the same), cosine from
/// the goal text.
private final class MessageJudge: @unchecked Sendable {
    private var labels: [String: Double] = [:]
    /// The run's reward settings (`RUN_DIR/config.json`); nil when it has none.
    private var composition: RewardComposition?
    /// r_int of a message text under the run's reward.
    private var payment: ((String) -> Double)?
    private var counts: [Int: [String: Int]] = [:]
    private let lock = NSLock()

    init() {}

    init(runDirectory: URL) {
        var stored: [RunStore.MessageRow] = []
        if let store = try? RunStore(runDirectory: runDirectory, readOnly: true) {
            stored = (try? store.messages()) ?? []
            for message in stored { if let label = message.label { labels[message.text] = Double(label) } }
            store.close()
        }
        // The run's options as `oni run` saved them, read the way `--config` reads them
        // (`auto` meant retrieval when the run had an LLM).
        guard let file = try? ConfigFile(path: runDirectory.appendingPathComponent("config.json").path),
              let saved = try? RunSettings.parse(file.arguments(accepting: OptionValues.names(of: RunSettings.self)))
        else { return }
        var config = LearnerConfig()
        saved.learner.apply(to: &config, annotating: true)
        let composition = config.reward
        self.composition = composition
        switch composition.type {
        case .none: return
        case .retrieval: payment = { [labels] in labels[$0] ?? 0 }
        case .cosine:
            let (goal, threshold) = (Goal(argument: config.goal).text, composition.cosineThreshold)
            payment = { text in
                let similarity = MessageFeatures.cosine(text, goal)
                return similarity >= threshold ? similarity : 0
            }
        case .classification, .ranking:
            func trained<Model: TrainedRewardModel>(_: Model.Type) -> ((String) -> Double)? {
                let model = Model(seed: 0)
                guard (try? model.load(from: runDirectory.appendingPathComponent("checkpoints/reward_model.safetensors").path)) != nil,
                      let rule = composition.payRule
                else { return nil }
                let fitted = rule.fitted(outputs: model.outputs(stored.map(\.text)), counts: stored.map { Double(max($0.count, 1)) })
                return { fitted.pay(model.outputs([$0])[0]) }
            }
            payment = composition.type.trainedModel(composition.textModel).flatMap { trained($0) }
        }
    }

    func describe(_ frame: EvaluationFrame) -> String {
        guard !frame.message.isEmpty else { return "" }
        let count: Int = lock.withLock {
            counts[frame.episode, default: [:]][frame.message, default: 0] += 1
            return counts[frame.episode]![frame.message]!
        }
        let label = labels[frame.message]
        var text = label.map { "LLM: \($0 > 0.5 ? "progress" : "no progress")" } ?? "LLM: not labelled"
        guard let composition, let payment, frame.step > 0 else { return text }
        let paid = composition.llmCoefficient * payment(frame.message) / pow(Double(count), composition.countExponent)
        text += String(format: "  intrinsic %.4f (%@, N=%d)", paid, composition.type.rawValue as NSString, count)
        return text
    }
}

private final class FrameCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() -> Int { lock.withLock { count += 1; return count } }
}

/// The terminal without line buffering or echo while watching, so a single `q` is read at once.
private final class RawKeyboard: @unchecked Sendable {
    private var saved = termios()
    private let active: Bool

    init() {
        active = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &saved) == 0
        guard active else { return }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
    }

    /// Whether `key` was typed since the last look (never waits).
    func pressed(_ key: Character) -> Bool {
        var found = false
        var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        while poll(&descriptor, 1, 0) > 0 && descriptor.revents & Int16(POLLIN) != 0 {
            var byte: UInt8 = 0
            guard read(STDIN_FILENO, &byte, 1) == 1 else { break }
            if Character(UnicodeScalar(byte)) == key { found = true }
        }
        return found
    }

    func restore() {
        if active { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
    }
}
