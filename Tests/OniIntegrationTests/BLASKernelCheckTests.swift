import Foundation
import OniRuntime
import Testing

/// The OpenBLAS kernel the roles and `oni bench` switch to computes correct products: `oni bench
/// blas` picks it as the roles do (re-executing itself when OpenBLAS fell back to a generic
/// kernel) and checks sgemm against a plain Float64 loop on odd-sized matrices.
@Suite struct BLASKernelCheckTests {
    @Test func theKernelTheRolesUseIsCorrect() throws {
        var environments: [[String: String]] = [[:]]  // as a role starts: OpenBLAS's own choice, or the one it switches to
        if let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8), let kernel = BLASKernel.recommendedCoreType(cpuinfo: cpuinfo) {
            environments.append(["OPENBLAS_CORETYPE": kernel])  // the kernel a role switches to on this CPU
        }
        for environment in environments {
            let child = try ChildProcess("oni", ["bench", "blas"], name: "bench-blas", environment: environment)
            #expect(child.wait(seconds: 120) == 0, "\(child.output)")
            #expect(child.output.contains("OpenBLAS kernel"), "\(child.output)")
            #expect(child.output.contains("largest relative error") && child.output.contains("(correct)"), "\(environment): \(child.output)")
        }
    }
}
