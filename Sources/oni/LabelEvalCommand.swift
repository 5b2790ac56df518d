import ArgumentParser
import Foundation
import OniAnnotation
import OniCore
import OniOptions
import OniRuntime

struct LabelEvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label-eval",
        abstract: "Measure the LLM's labels against a labelled set of real game messages.",
        discussion: """
            Runs the annotator's labeller (the same prompt, label mode, examples and parser, \
            without the cache) over the messages of a labelled set (Oni's is \
            Tests/OniAnnotationTests/LabelSet/nethack-messages.jsonl) and prints agreement, \
            precision and recall of "progress", Cohen's κ, LLM seconds per label, a calibration \
            table for log-probability confidences, and the disagreements; --json writes it all. \
            --choose-threshold labels the whole set, chooses the P(yes) threshold with the best κ \
            on the development part and reports the test part with it. The LLM: --llm-url (or \
            ONI_LLM_BASE_URL), else the local llama-server, started for the duration.
            """)

    @Argument(help: "The labelled set (JSON lines).") var set: String
    @Option(help: "The goal the messages are judged against (its labels in the set are the reference).") var goal = "default"
    @Option(help: "Which part to report: test, dev or all.") var part = "test"
    @Option(help: "Judge only this many messages of the part, drawn at random (0 = all).") var limit = 0
    @Option(help: "Count P(yes) above this as progress (log-probability labels; default: the judge's own yes/no).") var threshold: Double?
    @Flag(help: "Choose the P(yes) threshold with the best κ on the dev part, then report the test part with it.") var chooseThreshold = false
    @Option(help: "GGUF model for the local llama-server (default: the one deploy/setup-llm.sh installs).") var llmModelFile: String?
    @Option(help: "CPU threads of the local llama-server.") var llmThreads = 2
    @Option(help: "Write the figures and every judgement to this JSON file.") var json: String?
    @OptionGroup(title: "Annotator (without --llm-url: the local llama-server)") var annotator: AnnotatorOptions

    func validate() throws {
        guard ["test", "dev", "all"].contains(part) else { throw ValidationError("--part must be test, dev or all") }
        guard limit >= 0, llmThreads > 0 else { throw ValidationError("--limit ≥ 0 and --llm-threads ≥ 1") }
        if let threshold, !(0...1).contains(threshold) { throw ValidationError("--threshold must be in [0, 1]") }
        if chooseThreshold && threshold != nil { throw ValidationError("--choose-threshold chooses the threshold; leave out --threshold") }
    }

    func run() async throws {
        _ = RoleLogging.bootstrap(level: "error")
        let labelSet: LabelSet
        do { labelSet = try LabelSet(path: set) } catch { return fail("\(error)") }
        var chosen = labelSet.entries(part: chooseThreshold ? "all" : part, goal: goal)
        if limit > 0 && chosen.count > limit {
            var rng = SeededGenerator(seed: 20261206)
            chosen.shuffle(using: &rng)
            chosen = Array(chosen.prefix(limit))
        }
        guard !chosen.isEmpty else { return fail("\(set) has no messages labelled for goal '\(goal)' in part '\(part)'") }
        let connection = try LLMConnection(
            annotator, modelFile: llmModelFile, threads: llmThreads, logPath: NSTemporaryDirectory() + "oni-label-eval-llm.log", command: "oni label-eval")
        defer { connection.server?.stop() }
        let mode = connection.labelMode(annotator.labelMode)
        let fewShot: FewShotExamples
        do { fewShot = try annotator.llmExamples.map { try FewShotExamples.load(path: $0) } ?? .builtIn } catch { return fail("\(error)") }
        let prompt = AnnotationPrompt(goal: Goal(argument: goal), mode: mode, fewShot: fewShot, threshold: annotator.logprobThreshold, style: annotator.prompt, unit: annotator.labelUnit)
        let labeler = CheckedLabeler(backend: OpenAICompatibleBackend(config: connection.config), prompt: prompt, cache: nil, check: annotator.labelCheck)
        Console.line(
            "oni label-eval: \(chosen.count) messages of \(set) (\(chooseThreshold ? "all" : part)), goal '\(goal)', \(connection.config.model) "
                + "(\(prompt.mode.rawValue), prompt \(annotator.prompt.rawValue) \(prompt.templateHash), label check \(annotator.labelCheck.rawValue), asked per \(prompt.unit.rawValue))")

        var judgements: [LabelAgreement.Judgement] = []
        var lastShown = Date()
        for (index, entry) in chosen.enumerated() {
            let started = Date()
            let result = await labeler.label(AnnotationItem(messageID: UInt64(index), text: entry.message))
            var label: Int?, probability: Double?
            if case let .labelled(value, confidence) = result.outcome {
                label = value >= 0.5 ? 1 : 0
                if prompt.mode == .logprob && annotator.labelCheck == .none { probability = Double(value >= 0.5 ? confidence : 1 - confidence) }
            }
            judgements.append(
                .init(message: entry.message, reference: entry.labels[goal]!, label: label, probability: probability, seconds: Date().timeIntervalSince(started)))
            if Date().timeIntervalSince(lastShown) >= 5 || index + 1 == chosen.count {
                lastShown = Date()
                FileHandle.standardError.write(Data("oni label-eval: \(index + 1) of \(chosen.count) labelled\n".utf8))
            }
        }

        var applied = threshold
        var reported = judgements
        if chooseThreshold {
            let dev = zip(chosen, judgements).filter { $0.0.part == "dev" }.map(\.1)
            applied = LabelAgreement.bestThreshold(dev)
            reported = zip(chosen, judgements).filter { part == "all" || $0.0.part == part }.map(\.1)
            Console.line("oni label-eval: threshold chosen on the dev part (\(dev.count) messages): " + (applied.map { String(format: "P(yes) > %.3f", $0) } ?? "none (no probabilities)"))
        }
        let agreement = LabelAgreement(reported, threshold: applied)
        Console.line(Self.table(agreement, judgements: reported))
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let report = Report(
                set: set, goal: goal, part: part, model: connection.config.model, labelMode: prompt.mode.rawValue, promptHash: prompt.templateHash,
                agreement: agreement, judgements: reported)
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
            Console.line("oni label-eval: report in \(json)")
        }
    }

    struct Report: Codable {
        var set: String, goal: String, part: String, model: String, labelMode: String, promptHash: String
        var agreement: LabelAgreement
        var judgements: [LabelAgreement.Judgement]
    }

    static func table(_ a: LabelAgreement, judgements: [LabelAgreement.Judgement]) -> String {
        func figure(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "—" }
        var lines = [
            "  judged        \(a.judged) (\(a.unlabelled) without a label)",
            "  agreement     \(figure(a.agreement))",
            "  precision     \(figure(a.precision))   (of the judge's \"progress\", how many the reference agrees with)",
            "  recall        \(figure(a.recall))   (of the reference's progress, how much the judge found)",
            "  Cohen's κ     \(figure(a.kappa))",
            String(format: "  s per label   %.3f", a.secondsPerLabel),
            "  confusion     reference progress: \(a.truePositives) found, \(a.falseNegatives) missed; "
                + "reference none: \(a.falsePositives) called progress, \(a.trueNegatives) not",
        ]
        if !a.calibration.isEmpty {
            lines.append("  calibration   P(yes) bin     n   mean P   progress rate")
            for bin in a.calibration {
                lines.append(String(format: "                %.1f–%.1f   %5d   %6.3f   %6.3f", bin.low, bin.high, bin.count, bin.meanProbability, bin.progressRate))
            }
        }
        let wrong = judgements.filter { j in
            guard let label = a.threshold.flatMap({ t in j.probability.map { $0 > t ? 1 : 0 } }) ?? j.label else { return false }
            return label != j.reference
        }
        if !wrong.isEmpty {
            lines.append("  disagreements (reference → judge):")
            for j in wrong.prefix(40) {
                let shown = j.probability.map { String(format: " P(yes)=%.2f", $0) } ?? ""
                lines.append("    \(j.reference) → \(1 - j.reference)\(shown)  \(j.message)")
            }
            if wrong.count > 40 { lines.append("    … \(wrong.count - 40) more (--json has them all)") }
        }
        return lines.joined(separator: "\n")
    }

    private func fail(_ text: String) {
        Console.line("oni label-eval: \(text)")
        Self.exit(withError: ExitCode.failure)
    }
}
