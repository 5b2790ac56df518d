import ArgumentParser
import Foundation
import OniCore
import OniRuntime
import OniStorage

struct EpisodesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "episodes",
        abstract: "Browse the episodes a run stored.",
        subcommands: [List.self, Show.self])

    static func open(_ runDir: String) throws -> RunStore {
        let path = URL(fileURLWithPath: runDir).appendingPathComponent(RunStore.fileName).path
        guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("\(path) does not exist") }
        return try RunStore(path: path, readOnly: true)
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List episodes, filtered by return, length, worker, success or env step.")

        @Argument(help: "The run directory.") var runDir: String
        @Option(help: "Only episodes with at least this return.") var minReturn: Double?
        @Option(help: "Only episodes with at most this return.") var maxReturn: Double?
        @Option(help: "Only episodes at least this long.") var minLength: Int?
        @Option(help: "Only episodes at most this long.") var maxLength: Int?
        @Option(help: "Only this worker's episodes.") var worker: String?
        @Option(help: "Only episodes that ended at or after this learner env step.") var from: UInt64?
        @Option(help: "Only episodes that ended at or before this learner env step.") var until: UInt64?
        @Flag(help: "Only successful episodes.") var success = false
        @Flag(help: "Only unsuccessful episodes.") var failure = false
        @Option(help: "Most episodes to list.") var limit = 50

        func run() throws {
            let store = try EpisodesCommand.open(runDir)
            defer { store.close() }
            var filter = EpisodeBrowser.Filter()
            (filter.minReturn, filter.maxReturn, filter.minLength, filter.maxLength) = (minReturn, maxReturn, minLength, maxLength)
            (filter.worker, filter.fromStep, filter.untilStep, filter.limit) = (worker, from, until, limit)
            if success != failure { filter.success = success }
            let rows = try EpisodeBrowser(store: store).list(filter)
            Console.line("      id  worker        env  episode   return  length  success  ended at step")
            for r in rows {
                Console.line(
                    String(
                        format: "%8lld  %-12@ %4d %8llu %8.2f %7d  %-7@  %llu", r.id, r.workerID as NSString, r.envIndex, r.workerEpisode,
                        r.episodeReturn, r.length, (r.success ? "yes" : "no") as NSString, r.learnerEnvSteps))
            }
            Console.line("\(rows.count) episode\(rows.count == 1 ? "" : "s")\(rows.count == limit ? " (--limit reached)" : "")")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an episode step by step: map, status, action, reward, message and its label.")

        @Argument(help: "The run directory.") var runDir: String
        @Argument(help: "Episode id (from `oni episodes list`).") var id: Int64
        @Flag(help: "Animate in the terminal instead of printing every step.") var follow = false
        @Option(help: "Seconds per step with --follow.") var delay = 0.15

        func run() throws {
            let store = try EpisodesCommand.open(runDir)
            defer { store.close() }
            let browser = EpisodeBrowser(store: store)
            guard let row = try browser.episode(id) else { throw ValidationError("no episode \(id) in \(runDir)") }
            let labels = Dictionary(try store.messages().compactMap { m in m.label.map { (m.text, $0) } }) { a, _ in a }
            let (frames, gap) = try browser.frames(of: row)
            Console.line(
                "episode \(row.id): worker \(row.workerID) env \(row.envIndex), seed \(row.seed), return \(row.episodeReturn), "
                    + "\(row.length) steps, \(row.success ? "succeeded" : "did not succeed")")
            if let gap { Console.line("note: \(gap)") }
            let actionNames = frames.first.flatMap { EnvironmentNames.actionNames(of: $0.envName) } ?? []
            for frame in frames {
                var text = follow ? "\u{1B}[H\u{1B}[2J" : "\n"
                let action = Int(frame.action) < actionNames.count ? "\(actionNames[Int(frame.action)]) (\(frame.action))" : "\(frame.action)"
                let paid = frame.intrinsic.map { value in
                    "  intrinsic \(value) (\(frame.rewardType ?? "?") v\(frame.rewardModelVersion ?? 0))"
                } ?? ""
                text += "step \(frame.step)  action \(action)  reward \(frame.reward)\(paid)  policy v\(frame.policyVersion)\n"
                if let chars = frame.observation["chars"], chars.shape.count == 2 {
                    let width = chars.shape[1]
                    let bytes = [UInt8](chars.bytes).map { $0 >= 32 && $0 < 127 ? $0 : 32 }
                    for y in 0..<chars.shape[0] { text += String(decoding: bytes[(y * width)..<((y + 1) * width)], as: UTF8.self) + "\n" }
                }
                if let status = frame.observation["status"], status.elementType == .int32 {
                    text += "status " + status.int32s.map(String.init).joined(separator: " ") + "\n"
                }
                if !frame.message.isEmpty {
                    let label = labels[frame.message].map { $0 > 0.5 ? "progress" : "no progress" } ?? "not labelled"
                    text += "message \"\(frame.message)\" (#\(frame.messageCount) this episode, LLM: \(label))\n"
                }
                Console.write(text)
                if follow { Thread.sleep(forTimeInterval: delay) }
            }
        }
    }
}
