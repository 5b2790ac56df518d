import CBLAS
import Foundation
import Logging

/// Picks OpenBLAS's kernel. Debian's OpenBLAS 0.3.21 does not recognise newer
/// Intel CPUs and falls back to its generic Prescott kernel, ~5× slower than
/// the SkylakeX kernel those CPUs can run. OpenBLAS reads OPENBLAS_CORETYPE
/// only when it loads, so when the user has not set it and the detected
/// kernel is a fallback, the role re-executes itself once with a fitting one.
public enum BLASKernel {
    /// Kernels OpenBLAS falls back to when it does not know the CPU.
    static let fallbacks: Set<String> = ["prescott", "core2", "nehalem", "katmai", "coppermine", "northwood", "banias", "atom"]

    /// The OPENBLAS_CORETYPE a CPU with these /proc/cpuinfo contents can run best, if we know one.
    public static func recommendedCoreType(cpuinfo: String) -> String? {
        guard let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(flagsLine.split(separator: ":", maxSplits: 1).last?.split(separator: " ").map(String.init) ?? [])
        let intel = cpuinfo.contains("GenuineIntel")
        let amd = cpuinfo.contains("AuthenticAMD")
        if intel && flags.contains("avx512f") && flags.contains("avx512bw") && flags.contains("avx512vl") {
            // Cooperlake adds avx512_bf16; both kernels are in 0.3.21 ("SapphireRapids" is not).
            return flags.contains("avx512_bf16") ? "COOPERLAKE" : "SKYLAKEX"
        }
        if flags.contains("avx2") && flags.contains("fma") { return amd ? "ZEN" : "HASWELL" }
        if flags.contains("avx") { return "SANDYBRIDGE" }
        return nil
    }

    /// The kernel OpenBLAS chose at load.
    public static var current: String { String(cString: openblas_get_corename()) }

    /// `ensureFittingKernel(logger:)` with a logger labelled `label.blas`, for commands that train or time training.
    public static func ensureFittingKernel(label: String) {
        ensureFittingKernel(logger: Logger(label: "\(label).blas"))
    }

    /// Re-executes this process with a better OPENBLAS_CORETYPE when OpenBLAS
    /// fell back to a generic kernel and the user did not choose one; otherwise
    /// logs the kernel in use and returns.
    public static func ensureFittingKernel(logger: Logger) {
        let environment = ProcessInfo.processInfo.environment
        let kernel = current
        if let chosen = environment["OPENBLAS_CORETYPE"] {
            logger.info("BLAS kernel", metadata: ["kernel": "\(kernel)", "OPENBLAS_CORETYPE": "\(chosen)"])
            return
        }
        guard fallbacks.contains(kernel.lowercased()),
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let better = recommendedCoreType(cpuinfo: cpuinfo)
        else {
            logger.info("BLAS kernel", metadata: ["kernel": "\(kernel)"])
            return
        }
        logger.notice("OpenBLAS chose its generic kernel for this CPU; restarting with a fitting one", metadata: ["was": "\(kernel)", "now": "\(better)"])
        setenv("OPENBLAS_CORETYPE", better, 1)
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", arguments)
        // execv returns only on failure: carry on with the slow kernel, loudly.
        logger.warning("could not restart with a better BLAS kernel; continuing with the generic one", metadata: ["errno": "\(errno)"])
    }
}
