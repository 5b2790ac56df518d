import CBLAS
import Foundation

/// The single-thread sgemm rate of this process's OpenBLAS kernel: the peak the learner's
/// achieved FLOP/s are compared with, and a check that the kernel computes correct products.
public enum SGEMMPeak {
    /// GFLOP/s of sgemm m×n×k (256×512×512 by default) on the calling thread, best of `repeats` products.
    public static func measure(m: Int = 256, n: Int = 512, k: Int = 512, repeats: Int = 12) -> Double {
        let a = [Float](repeating: 0.5, count: m * k)
        let b = [Float](repeating: 0.25, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = ContinuousClock.now
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
            let d = ContinuousClock.now - start
            best = min(best, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
        return 2 * Double(m * n * k) / best / 1e9
    }

    /// The largest relative error of sgemm against a plain Float64 loop on seeded random matrices
    /// whose sizes are not multiples of any kernel's block (so edge code runs too).
    public static func referenceError(m: Int = 67, n: Int = 45, k: Int = 129) -> Double {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 1000
        }
        let a = (0..<(m * k)).map { _ in next() }
        let b = (0..<(k * n)).map { _ in next() }
        var c = [Float](repeating: 0, count: m * n)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += Double(a[i * k + p]) * Double(b[p * n + j]) }
                worst = max(worst, abs(Double(c[i * n + j]) - sum) / max(1, abs(sum)))
            }
        }
        return worst
    }
}
