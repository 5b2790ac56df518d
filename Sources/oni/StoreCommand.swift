import ArgumentParser
import Foundation
import OniStorage

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Look after a run's SQLite store.",
        subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a run's store: SQLite integrity, and that every rollout, label and count is sound.",
            discussion: """
                Opens RUN_DIR/oni.sqlite read-only (safe while a learner writes to it), runs SQLite's \
                integrity and foreign-key checks, decodes and validates every stored rollout against \
                its row, and checks sequence order, the learner's step counter, labels, messages and \
                episodes. Exits 0 if all is sound, 1 with the problems listed otherwise.
                """)

        @Argument(help: "The run directory.") var runDir: String

        func run() throws {
            let path = URL(fileURLWithPath: runDir).appendingPathComponent(RunStore.fileName).path
            guard FileManager.default.fileExists(atPath: path) else {
                Console.line("oni store check: \(path) does not exist")
                throw ExitCode.failure
            }
            let report: StoreCheck.Report
            do {
                let store = try RunStore(path: path, readOnly: true)
                defer { store.close() }
                report = try StoreCheck.run(store) { done, total in
                    FileHandle.standardError.write(Data("oni store check: \(done) of \(total) rollouts\n".utf8))
                }
            } catch {
                Console.line("oni store check: \(error)")
                throw ExitCode.failure
            }
            Console.line("oni store check: " + report.counts.map { "\($0.1) \($0.0)" }.joined(separator: ", "))
            if report.isClean {
                Console.line("oni store check: ok")
            } else {
                for problem in report.problems { Console.line("problem: \(problem)") }
                throw ExitCode.failure
            }
        }
    }
}
