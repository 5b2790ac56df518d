import ArgumentParser
import Foundation
import Logging
import MallocInterposerSwift
import OniRuntime

/// Counts the heap allocations of the learner's steady-state APPO update (every malloc, calloc,
/// realloc and aligned allocation of every thread, through ordo-one's malloc interposer). A tool
/// of its own so that no product binary carries the interposer.
@main
struct AllocationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oni-allocations",
        abstract: "Count the heap allocations of the learner's steady-state update.",
        discussion: """
            Builds the network `oni bench learner` times for --env, runs --warm-up updates on a batch \
            of random play, then counts every heap allocation of --updates more and prints them per \
            update. With --max-per-update N it exits 1 when an update allocates more than N times \
            (deploy/test.sh checks the release build this way). It preloads the interposer \
            (libMallocInterposerSwift.so beside it) by starting itself again.
            """)

    @Option(help: "Environment whose network is trained.") var env = "grid:keyroom"
    @Option(help: "Network core: none, gru, or the environment's default.") var core: String?
    @Option(help: "Environment steps per update.") var batchSize = 1024
    @Option(help: "Learner threads.") var threads = 1
    @Option(help: "Updates before counting (buffers sized, caches filled).") var warmUp = 3
    @Option(help: "Updates counted.") var updates = 10
    @Option(help: "Fail when an update allocates more often than this.") var maxPerUpdate: Int?
    @Option(help: "Fail when an update allocates more KiB than this.") var maxKibPerUpdate: Int?

    func run() throws {
        try Self.preloadInterposer()
        // The kernel the roles train with.
        BLASKernel.ensureFittingKernel(logger: Logger(label: "oni.allocations"))
        // and the allocator settings (so a profile of this tool is a profile of the learner's update)
        AllocatorTuning.keepLargeAllocations()
        let update = try Benchmarks.repeatableUpdate(env: env, core: core, batchSize: batchSize, threads: threads)
        for _ in 0..<warmUp { update() }
        MallocInterposerSwift.initialize()
        MallocInterposerSwift.hook()
        for _ in 0..<updates { update() }
        MallocInterposerSwift.unhook()
        let stats = MallocInterposerSwift.getStatistics()
        let perUpdate = Double(stats.mallocCount) / Double(updates)
        print(String(
            format: "allocations  %@ batch %d, %d thread%@: %.1f per update (%.1f KiB), %d in %d updates after %d to warm up",
            update.signature as NSString, batchSize, threads, threads == 1 ? "" : "s", perUpdate, Double(stats.mallocBytesCount) / Double(updates) / 1024,
            stats.mallocCount, updates, warmUp))
        let kib = Double(stats.mallocBytesCount) / Double(updates) / 1024
        if let maxPerUpdate, perUpdate > Double(maxPerUpdate) {
            print("allocations  more than \(maxPerUpdate) per update")
            throw ExitCode.failure
        }
        if let maxKibPerUpdate, kib > Double(maxKibPerUpdate) {
            print("allocations  more than \(maxKibPerUpdate) KiB per update")
            throw ExitCode.failure
        }
    }

    /// Starts this program again with the interposer preloaded, unless it is.
    static func preloadInterposer() throws {
        let name = "libMallocInterposerSwift.so"
        if ProcessInfo.processInfo.environment["LD_PRELOAD"]?.contains(name) == true { return }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let library = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: library) else {
            throw ValidationError("\(library) not found: build oni-allocations with swift build (it builds the interposer beside it)")
        }
        setenv("LD_PRELOAD", library, 1)
        let arguments = [executable] + CommandLine.arguments.dropFirst()
        var pointers = arguments.map { strdup($0) } + [nil]
        execv(executable, &pointers)
        throw ValidationError("could not start \(executable) again with the interposer: \(String(cString: strerror(errno)))")
    }
}
