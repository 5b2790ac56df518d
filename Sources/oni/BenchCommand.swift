import ArgumentParser
import OniRuntime

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the building blocks: transport, env, store, blas, learner.",
        discussion: "Build with -c release for meaningful figures: swift run -c release oni bench all")

    @Argument(help: "What to measure: transport, env, store, blas, learner or all.") var group = "all"
    @Option(help: "learner: network hidden width (default: the learner's).") var hidden: Int?
    @Option(help: "learner: convolution filters (default: the learner's).") var filters: Int?

    func validate() throws {
        guard group == "all" || Benchmarks.Group(rawValue: group) != nil else {
            throw ValidationError("unknown benchmark '\(group)'; choose transport, env, store, blas, learner or all")
        }
    }

    func run() throws {
        let groups = Benchmarks.Group(rawValue: group).map { [$0] } ?? Benchmarks.Group.allCases
        Console.line("machine    \(Benchmarks.machine)")
        for g in groups {
            switch g {
            case .transport: try Benchmarks.transport(output: Console.line)
            case .env: Benchmarks.env(output: Console.line)
            case .store: try Benchmarks.store(output: Console.line)
            case .blas: Benchmarks.blas(output: Console.line)
            case .learner: try Benchmarks.learner(hidden: hidden, filters: filters, output: Console.line)
            }
        }
    }
}
