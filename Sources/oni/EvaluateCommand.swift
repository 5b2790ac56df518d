import ArgumentParser
import Foundation
import OniLearning
import OniRuntime
import OniStorage

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Play fresh episodes with a saved policy and report how good it is.",
        discussion: """
            Loads a checkpoint (a .safetensors file, or RUN_DIR for its newest one), plays --episodes \
            fresh episodes (episode k from seed --seed + k) without training and without the LLM, and \
            prints mean return ± standard error, success rate, episode length, the game's own figures \
            (NetHack: in-game score, depth reached, experience level, gold) and the most frequent \
            messages. The report (every episode) goes to --output (default: \
            RUN_DIR/evaluations/step-N-version-V.json) and a row to the run's `evaluations` table, \
            whose view `evaluation_curve` lists them by env steps trained. --all-milestones evaluates every \
            checkpoints/step-*.safetensors kept by --keep-checkpoints-every, in order.
            """)

    @Argument(help: "A checkpoint file, or a run directory (its checkpoints/policy.safetensors).") var path: String
    @Option(help: "Environment (default: the one the checkpoint was trained on).") var env: String?
    @Option(help: "Episodes to play.") var episodes = 20
    @Option(help: "Seed of the first episode (episode k plays seed + k).") var seed: UInt64 = 1_000_000
    @Flag(help: "Take the most probable action instead of sampling one.") var greedy = false
    @Option(help: "Threads the episodes are split across.") var threads = 1
    @Option(help: "Environments each thread steps together.") var envsPerThread = 16
    @Option(help: "Cut episodes still running after this many steps (counted as truncated).") var maxEpisodeSteps = 100_000
    @Flag(help: "Evaluate every milestone checkpoint of RUN_DIR (checkpoints/step-*.safetensors).") var allMilestones = false
    @Option(help: "Where the JSON report goes (one evaluation; default under RUN_DIR/evaluations).") var output: String?
    @Flag(inversion: .prefixedNo, help: "Add the result to the run's store (its `evaluations` table).") var store = true
    @Option(help: ArgumentHelp("Record every episode here: an asciinema .cast file each, and a ttyrec beside it for NetHack.", valueName: "dir"))
    var record: String?
    @Option(help: "Frames per second of the recordings' clock.") var recordFps = 10.0

    func validate() throws {
        guard recordFps > 0 else { throw ValidationError("--record-fps must be positive") }
        guard episodes > 0, threads > 0, envsPerThread > 0, maxEpisodeSteps > 0 else {
            throw ValidationError("--episodes, --threads, --envs-per-thread and --max-episode-steps must be positive")
        }
        if allMilestones && output != nil { throw ValidationError("--output names one report; --all-milestones writes one per milestone under RUN_DIR/evaluations") }
    }

    func run() throws {
        _ = RoleLogging.bootstrap(level: "warning")
        AllocatorTuning.keepLargeAllocations()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { fail("\(path) does not exist") }
        let runDirectory: URL? = isDirectory.boolValue
            ? URL(fileURLWithPath: path)
            : Self.runDirectory(holding: URL(fileURLWithPath: path))
        var checkpoints: [URL]
        if isDirectory.boolValue {
            let store = CheckpointStore(runDirectory: URL(fileURLWithPath: path))
            checkpoints = allMilestones ? store.milestones().map(\.url) : [store.latest]
            if checkpoints.isEmpty { fail("\(store.directory.path) has no milestones; train with --keep-checkpoints-every STEPS") }
            if !allMilestones && !FileManager.default.fileExists(atPath: store.latest.path) { fail("\(path) has no checkpoint (\(store.latest.path))") }
        } else {
            if allMilestones { fail("--all-milestones takes a run directory") }
            checkpoints = [URL(fileURLWithPath: path)]
        }

        var curve: [(UInt64, EvaluationSummary)] = []
        for checkpoint in checkpoints {
            let loaded: (network: PolicyNetwork<Float>, metadata: CheckpointMetadata)
            do { loaded = try CheckpointStore.loadPolicy(from: checkpoint) } catch { fail("\(error)") }
            guard let environment = env ?? loaded.metadata.env else {
                fail("\(checkpoint.path) does not record its environment (saved before Oni did); pass --env")
            }
            var options = Evaluator.Options(env: environment)
            options.episodes = episodes
            options.seed = seed
            options.greedy = greedy
            options.threads = threads
            options.envsPerThread = envsPerThread
            options.maxEpisodeSteps = maxEpisodeSteps
            let evaluator: Evaluator
            do { evaluator = try Evaluator(network: loaded.network, options: options) } catch { fail("\(error)") }
            Console.line(
                "oni evaluate: \(checkpoint.path) (policy version \(loaded.metadata.version), trained on \(loaded.metadata.envSteps) env steps) "
                    + "on \(environment): \(episodes) episodes, \(greedy ? "greedy" : "sampled") actions, seeds \(seed)…, \(threads) thread\(threads == 1 ? "" : "s")")
            let started = Date()
            let lastShown = LastShown()
            let results: [EpisodeResult]
            var recordings: EpisodeRecordings?
            if let record {
                let directory = checkpoints.count > 1 ? (record as NSString).appendingPathComponent("step-\(loaded.metadata.envSteps)") : record
                do { recordings = try EpisodeRecordings(directory: directory, env: environment, framesPerSecond: recordFps) } catch { fail("\(error)") }
            }
            do {
                let progress: @Sendable (Int) -> Void = { done in
                    if lastShown.due() || done == episodes {
                        FileHandle.standardError.write(Data("oni evaluate: \(done) of \(episodes) episodes\n".utf8))
                    }
                }
                if let recordings {
                    results = try evaluator.run(progress: progress) { frame in
                        recordings.record(episode: frame.episode, step: frame.step, screen: frame.screen(), last: frame.done)
                        return true
                    }
                } else {
                    results = try evaluator.run(progress: progress)
                }
            } catch { fail("\(error)") }
            if let recordings {
                if let error = recordings.error { Console.line("oni evaluate: recording failed: \(error)") }
                Console.line("oni evaluate: recordings in \(recordings.directory.path) (ttyplay FILE.ttyrec, asciinema play FILE.cast)")
            }
            let report = EvaluationReport(checkpoint: checkpoint.path, metadata: loaded.metadata, options: options, results: results)
            Console.line(report.summary.table())
            Console.line(String(format: "oni evaluate: %.1f s", Date().timeIntervalSince(started)))
            try save(report, metadata: loaded.metadata, options: options, runDirectory: runDirectory)
            curve.append((loaded.metadata.envSteps, report.summary))
        }
        if curve.count > 1 {
            Console.line("oni evaluate: milestones\n     env steps      return          success   length")
            for (steps, summary) in curve {
                Console.line(String(format: "  %12llu  %8.3f ± %-7.3f %7.3f  %7.1f", steps, summary.meanReturn, summary.standardErrorReturn, summary.successRate, summary.meanLength))
            }
        }
    }

    private func save(_ report: EvaluationReport, metadata: CheckpointMetadata, options: Evaluator.Options, runDirectory: URL?) throws {
        let json = try report.json()
        let file: URL?
        if let output {
            file = URL(fileURLWithPath: output)
        } else if let runDirectory {
            file = runDirectory.appendingPathComponent("evaluations/step-\(metadata.envSteps)-version-\(metadata.version).json")
        } else {
            file = nil
        }
        if let file {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try json.write(to: file)
            Console.line("oni evaluate: report in \(file.path)")
        }
        guard store, let runDirectory, FileManager.default.fileExists(atPath: runDirectory.appendingPathComponent(RunStore.fileName).path) else { return }
        do {
            let runStore = try RunStore(runDirectory: runDirectory)
            defer { runStore.close() }
            try runStore.insertEvaluation(report.summary.record(checkpoint: report.checkpoint, metadata: metadata, options: options, report: String(decoding: json, as: UTF8.self)))
        } catch {
            Console.line("oni evaluate: could not add the result to \(runDirectory.path)/\(RunStore.fileName): \(error)")
        }
    }

    /// The run directory a checkpoint file lies in (RUN_DIR/checkpoints/FILE), if it is one.
    static func runDirectory(holding checkpoint: URL) -> URL? {
        let candidate = checkpoint.deletingLastPathComponent().deletingLastPathComponent()
        let isRun = checkpoint.deletingLastPathComponent().lastPathComponent == "checkpoints"
            && FileManager.default.fileExists(atPath: candidate.appendingPathComponent(RunStore.fileName).path)
        return isRun ? candidate : nil
    }

    private func fail(_ text: String) -> Never {
        Console.line("oni evaluate: \(text)")
        Self.exit(withError: ExitCode.failure)
    }
}

/// Rate-limits progress lines to one every two seconds.
private final class LastShown: @unchecked Sendable {
    private let lock = NSLock()
    private var last = Date.distantPast

    func due() -> Bool {
        lock.withLock {
            guard Date().timeIntervalSince(last) >= 2 else { return false }
            last = Date()
            return true
        }
    }
}
