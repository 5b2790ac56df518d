import ArgumentParser
import Foundation
import Logging
import OniAnnotation
import OniLearning
import OniOptions
import OniRewards
import OniRuntime
import OniStorage

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Use a run's stored experience again: train a learner on it, or label its messages anew.",
        subcommands: [Rollouts.self, Annotate.self, FitReward.self])

    struct FitReward: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fit-reward",
            abstract: "Fit the classification or ranking reward model offline from a run's labels or pairs.",
            discussion: """
                Trains the model the learner would train online (Motif-style, offline) on the labels \
                (classification) or pair judgements (ranking) in RUN_DIR/oni.sqlite, every tenth \
                message or pair held out, and writes its weights (safetensors) for a learner to start \
                from: oni-learner --reward KIND --reward-init FILE (or oni run --reward-init FILE).
                """)

        @Argument(help: "The run directory whose labels or pairs to fit.") var runDir: String
        @Option(help: "classification or ranking.") var reward: String
        @Option(help: "The text model: ngram or char-cnn (classification only).") var rewardModel = RewardTextModel.ngram
        @Option(help: "Adam steps (batches of 32).") var steps = 2000
        @Option(help: "Where to write the weights (default: RUN_DIR/reward-KIND.safetensors).") var output: String?
        @Option(help: "Seed of the initial weights and the batches.") var seed: UInt64 = 1

        func validate() throws {
            guard let kind = IntrinsicRewardType(rawValue: reward), kind.trainedModel(rewardModel) != nil else {
                throw ValidationError("--reward must be classification (--reward-model ngram or char-cnn) or ranking (ngram), got '\(reward)' with \(rewardModel.rawValue)")
            }
            guard steps >= 10 else { throw ValidationError("--steps must be at least 10") }
        }

        func run() throws {
            // Training: the BLAS kernel the learner would use.
            BLASKernel.ensureFittingKernel(label: "oni.replay")
            AllocatorTuning.keepLargeAllocations()
            let kind = IntrinsicRewardType(rawValue: reward)!
            let path = output ?? URL(fileURLWithPath: runDir).appendingPathComponent("reward-\(kind.rawValue).safetensors").path
            var fitter = RewardModelFitter(runDirectory: runDir, kind: kind)
            fitter.steps = steps
            fitter.textModel = rewardModel
            fitter.seed = seed
            do {
                let report = try fitter.fit(output: path) { step, loss in
                    FileHandle.standardError.write(Data("oni replay: step \(step) of \(steps), loss \(String(format: "%.4f", loss))\n".utf8))
                }
                let accuracy = report.heldOutAccuracy.map { String(format: "%.2f", $0) } ?? "- (nothing held out)"
                Console.line(
                    "oni replay: fitted a \(kind.rawValue) model on \(report.trainExamples) examples (\(report.heldOutExamples) held out): "
                        + "loss \(String(format: "%.4f", report.loss)), held-out accuracy \(accuracy); written to \(path)")
                Console.line("oni replay: start a learner from it with --reward \(kind.rawValue) --reward-init \(path)")
            } catch {
                Console.line("oni replay: \(error)")
                throw ExitCode.failure
            }
        }
    }

    struct Annotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Label a run's stored messages again, with another model, prompt or goal.",
            discussion: """
                Asks the LLM about every distinct message in RUN_DIR/oni.sqlite and adds the new labels \
                beside the old ones (the newest is the one the message_labels view and a resumed \
                learner use), then prints how many labels changed. The LLM: --llm-url (or \
                ONI_LLM_BASE_URL), else the local llama-server, started for the duration. Labels come \
                from and go to the annotation cache like the annotator's (--no-cache asks about \
                everything). The run's learner must not be running.
                """)

        @Argument(help: "The run directory whose messages to label.") var runDir: String
        @Option(help: "GGUF model for the local llama-server (default: the one deploy/setup-llm.sh installs).") var llmModelFile: String?
        @Option(help: "CPU threads of the local llama-server.") var llmThreads = 2
        @Option(help: "Goal for the LLM: default, combat, gold, stairs or free text.") var goal = "default"
        @OptionGroup(title: "Annotator (without --llm-url: the local llama-server)") var annotator: AnnotatorOptions

        func validate() throws {
            guard llmThreads > 0 else { throw ValidationError("--llm-threads must be positive") }
        }

        func run() async throws {
            _ = RoleLogging.bootstrap(level: "warning")
            let fewShot: FewShotExamples
            do {
                fewShot = try annotator.llmExamples.map { try FewShotExamples.load(path: $0) } ?? .builtIn
            } catch {
                throw ValidationError("\(error)")
            }
            let connection = try LLMConnection(
                annotator, modelFile: llmModelFile, threads: llmThreads,
                logPath: URL(fileURLWithPath: runDir).appendingPathComponent("logs/llm-server-replay.log").path, command: "oni replay")
            defer { connection.server?.stop() }
            let llm = connection.config
            let mode = connection.labelMode(annotator.labelMode)
            var cache: SQLiteLabelCache?
            if annotator.cache {
                let path = annotator.annotationCache ?? SQLiteLabelCache.defaultPath
                do { cache = try SQLiteLabelCache(path: path) } catch { Console.line("oni replay: label cache unusable (\(error)); asking about every message") }
            }
            let prompt = AnnotationPrompt(goal: Goal(argument: goal), mode: mode, fewShot: fewShot, threshold: annotator.logprobThreshold, style: annotator.prompt, unit: annotator.labelUnit)
            let labeler = MessageLabeler(backend: OpenAICompatibleBackend(config: llm), prompt: prompt, cache: cache)
            do {
                let report = try await Relabeller(runDirectory: runDir, labeler: labeler).run { done, total in
                    FileHandle.standardError.write(Data("oni replay: \(done) of \(total) messages labelled\n".utf8))
                }
                Console.line(
                    "oni replay: \(report.messages) messages asked of \(llm.model) (\(prompt.mode.rawValue), prompt \(annotator.prompt.rawValue) \(prompt.templateHash), goal '\(goal)'): "
                        + "\(report.labelled) labelled, \(report.changed.count) changed, \(report.newlyLabelled) newly labelled, "
                        + "\(report.unparseable) unparseable, \(report.disagreed) disagreed, \(report.errors) errors")
                for change in report.changed.prefix(20) {
                    Console.line("  \(Int(change.old)) → \(Int(change.new))  \(change.text)")
                }
                if report.changed.count > 20 { Console.line("  … and \(report.changed.count - 20) more") }
            } catch {
                Console.line("oni replay: \(error)")
                throw ExitCode.failure
            }
        }
    }

    struct Rollouts: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream a run's stored rollouts to a learner, as a worker would.",
            discussion: """
                Reads RUN_DIR/oni.sqlite oldest first in small batches (bounded memory) and pushes each \
                rollout to the learner's experience socket, marked as replay: the learner trains on it \
                (V-trace corrects with the stored behaviour log-probabilities, whatever run's policy \
                acted), counts it under replay/* and keeps it out of the live episode statistics. \
                Progress goes to stderr every two seconds; Ctrl-C stops.
                """)

        @Argument(help: "The run directory to replay.") var runDir: String
        @Option(help: "The learner's experience endpoint, e.g. tcp://127.0.0.1:5555.") var to: String
        @Option(help: "Most rollouts per second (default: as fast as the learner takes them).") var rate: Double?
        @Option(help: "Only rollouts received at or after this learner env step.") var from: UInt64?
        @Option(help: "Only rollouts received at or before this learner env step.") var until: UInt64?
        @Option(help: ArgumentHelp(CurveSettings.help, valueName: "dir")) var curve: String?
        @Option(help: ArgumentHelp(CurveSettings.clientKeyHelp, valueName: "file")) var curveClientKey: String?

        func validate() throws {
            if let rate, !(rate > 0) { throw ValidationError("--rate must be positive") }
            guard to.hasPrefix("tcp://") || to.hasPrefix("ipc://") else { throw ValidationError("--to must be tcp://HOST:PORT or ipc://PATH") }
        }

        func run() throws {
            _ = RoleLogging.bootstrap(level: "warning")
            let stop = StopSignal()
            let sources = stop.installSignalHandlers()
            defer { sources.forEach { $0.cancel() } }
            var config = RolloutReplayer.Config(runDirectory: runDir, endpoint: to)
            (config.rate, config.fromStep, config.untilStep) = (rate, from, until)
            let context = try RoleMain.makeContext(
                curve: .from(curve, clientKey: curveClientKey, binds: false, connects: true), logger: Logger(label: "oni.replay"))
            let replayer = RolloutReplayer(config: config, transport: context, stop: stop, logger: Logger(label: "oni.replay"))
            do {
                let done = try replayer.run { p in
                    FileHandle.standardError.write(Data("oni replay: \(p.sent) of \(p.total) rollouts sent\(p.unreadable > 0 ? ", \(p.unreadable) unreadable" : "")\n".utf8))
                }
                Console.line("oni replay: sent \(done.sent) of \(done.total) rollouts to \(to)\(done.unreadable > 0 ? "; \(done.unreadable) unreadable rows skipped" : "")")
            } catch let error as RuntimeError {
                Console.line("oni replay: \(error)")
                throw ExitCode.failure
            }
        }
    }
}
