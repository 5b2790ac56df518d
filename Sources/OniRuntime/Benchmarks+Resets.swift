import Foundation
import OniCore
import OniEnvironments

/// What this process holds that a game instance could leak: open descriptors, the memfd
/// copies of libnethack, game directories in the temporary directory, resident memory.
public struct ProcessResources: Equatable, Sendable {
    public var openDescriptors: Int
    public var libnethackCopies: Int
    public var gameDirectories: Int
    public var residentBytes: Int

    /// This process, now (Linux `/proc`).
    public static func now() -> ProcessResources {
        let fm = FileManager.default
        let descriptors = (try? fm.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        let copies = descriptors.filter { ((try? fm.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) ?? "").contains("memfd:libnethack") }
        let prefix = "oni-nethack-\(getpid())-"
        let directories = ((try? fm.contentsOfDirectory(atPath: fm.temporaryDirectory.path)) ?? []).filter { $0.hasPrefix(prefix) }
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return ProcessResources(
            openDescriptors: descriptors.count, libnethackCopies: copies.count, gameDirectories: directories.count,
            residentBytes: pages * Int(sysconf(Int32(_SC_PAGESIZE))))
    }

    /// "fds 9 → 9, libnethack memfds 1 → 1, game directories 1 → 1, RSS 41.2 → 41.9 MiB".
    public static func change(from a: ProcessResources, to b: ProcessResources) -> String {
        String(
            format: "fds %d → %d, libnethack memfds %d → %d, game directories %d → %d, RSS %.1f → %.1f MiB",
            a.openDescriptors, b.openDescriptors, a.libnethackCopies, b.libnethackCopies, a.gameDirectories, b.gameDirectories,
            Double(a.residentBytes) / 1_048_576, Double(b.residentBytes) / 1_048_576)
    }
}

extension Benchmarks {
    /// NetHack's resets and instances: `resets` resets of one instance (a few random steps each;
    /// every reset reloads the library), then `instances` instances made, played and closed one
    /// after another. Prints what the process holds before and after each (after a warm-up of
    /// 50 resets), so a leak of files, descriptors, library copies or memory shows.
    public static func resets(env name: String = "nethack:score", resets: Int = 1000, instances: Int = 100, output: (String) -> Void) throws {
        var rng = SeededGenerator(seed: 5)
        func play(_ env: any Environment, seed: UInt64) throws {
            try env.reset(seed: seed)
            for _ in 0..<5 { if try env.step(rng.below(env.actionCount)).done { break } }
        }
        let env = try EnvironmentFactory.make(name: name)
        for seed in 0..<50 { try play(env, seed: UInt64(seed)) }
        let before = ProcessResources.now()
        let elapsed = try seconds { for seed in 0..<resets { try play(env, seed: UInt64(50 + seed)) } }
        let after = ProcessResources.now()
        output(String(format: "resets     %@ %d resets (5 steps each), %.0f resets/s: ", name, resets, Double(resets) / elapsed)
            + ProcessResources.change(from: before, to: after))
        let made = try seconds {
            for seed in 0..<instances { try play(try EnvironmentFactory.make(name: name), seed: UInt64(seed)) }
        }
        let closed = ProcessResources.now()
        output(String(format: "resets     %@ %d instances made, played and closed, %.0f instances/s: ", name, instances, Double(instances) / made)
            + ProcessResources.change(from: after, to: closed))
    }
}
