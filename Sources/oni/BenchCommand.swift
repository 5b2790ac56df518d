import ArgumentParser
import Foundation
import OniRuntime

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the building blocks: transport, env, resets, store, blas, conv, learner.",
        discussion: """
            Build with -c release for meaningful figures: swift run -c release oni bench all. \
            `oni bench forward --checkpoint P --inputs IN --output OUT` runs a checkpoint's network on \
            the inputs in a safetensors file and writes its outputs, to compare Oni with another \
            implementation of the same network (deploy/tools/torch-side-by-side.sh).
            """)

    @Argument(help: "What to measure: transport, env, resets, store, blas, conv, learner or all (or forward: see below).") var group = "all"
    @Option(help: "forward: the policy checkpoint (policy.safetensors).") var checkpoint: String?
    @Option(help: "forward: the inputs (safetensors: chars, status, message, resets, state; steps and envs in its metadata).") var inputs: String?
    @Option(help: "forward: where to write the outputs (logits, values, state).") var output: String?
    @Option(help: "resets: how many resets of one NetHack instance (then a tenth as many instances made and closed).") var resets = 1000
    @Option(help: "learner: network hidden width (default: the learner's).") var hidden: Int?
    @Option(help: "learner: convolution filters (default: the learner's).") var filters: Int?
    @Option(help: "learner: the environment whose network is timed (grid:keyroom; nethack:score times NetHack's crop-9 GRU network).")
    var env = Benchmarks.LearnerOptions().env
    @Option(help: "learner: batch sizes in environment steps, comma-separated (rollouts of 512 steps each).")
    var batchSizes = Benchmarks.LearnerOptions().batchSizes.map(String.init).joined(separator: ",")
    @Option(help: "learner: thread counts, comma-separated, each timed at the largest batch size.")
    var threads = Benchmarks.LearnerOptions().threads.map(String.init).joined(separator: ",")

    func validate() throws {
        if group == "forward" {
            guard checkpoint != nil, inputs != nil, output != nil else { throw ValidationError("forward needs --checkpoint, --inputs and --output") }
            return
        }
        guard group == "all" || Benchmarks.Group(rawValue: group) != nil else {
            throw ValidationError("unknown benchmark '\(group)'; choose transport, env, resets, store, blas, conv, learner or all")
        }
    }

    /// A comma-separated list of positive integers.
    static func integers(_ text: String, _ flag: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("\(flag) takes positive integers separated by commas, got '\(text)'")
        }
        return values.map { $0! }
    }

    func run() throws {
        // The kernel the roles switch to, so the figures are those of a run.
        BLASKernel.ensureFittingKernel(label: "oni.bench")
        AllocatorTuning.keepLargeAllocations()
        if group == "forward", let checkpoint, let inputs, let output {
            let done = try CheckpointForward.run(
                checkpoint: URL(fileURLWithPath: checkpoint), inputs: URL(fileURLWithPath: inputs), output: URL(fileURLWithPath: output))
            Console.line("forward    \(done.signature): \(done.rows) rows → \(output)")
            return
        }
        var learnerOptions = Benchmarks.LearnerOptions()
        learnerOptions.env = env
        learnerOptions.hidden = hidden
        learnerOptions.filters = filters
        learnerOptions.batchSizes = try Self.integers(batchSizes, "--batch-sizes")
        learnerOptions.threads = try Self.integers(threads, "--threads")
        let groups = Benchmarks.Group(rawValue: group).map { [$0] } ?? Benchmarks.Group.allCases
        Console.line("machine    \(Benchmarks.machine)")
        for g in groups {
            switch g {
            case .transport: try Benchmarks.transport(output: Console.line)
            case .env: Benchmarks.env(output: Console.line)
            case .resets:
                do {
                    try Benchmarks.resets(resets: resets, instances: max(1, resets / 10), output: Console.line)
                } catch {
                    Console.line("resets     not measured (\(error))")
                    if self.group == "resets" { throw ExitCode.failure }
                }
            case .store: try Benchmarks.store(output: Console.line)
            case .blas: try Benchmarks.blas(output: Console.line)
            case .conv: Benchmarks.convolutions(output: Console.line)
            case .learner: try Benchmarks.learner(learnerOptions, output: Console.line)
            }
        }
    }
}
