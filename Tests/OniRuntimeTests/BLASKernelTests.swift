import OniRuntime
import Testing

@Suite struct BLASKernelTests {
    static func cpuinfo(vendor: String, flags: String) -> String {
        "processor\t: 0\nvendor_id\t: \(vendor)\nmodel name\t: test\nflags\t\t: \(flags)\n"
    }

    @Test func recommendsAKernelTheCPUCanRun() {
        let base = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma"
        #expect(BLASKernel.recommendedCoreType(cpuinfo: Self.cpuinfo(vendor: "GenuineIntel", flags: base + " avx512f avx512bw avx512vl amx_tile")) == "SKYLAKEX")
        #expect(BLASKernel.recommendedCoreType(cpuinfo: Self.cpuinfo(vendor: "GenuineIntel", flags: base + " avx512f avx512bw avx512vl avx512_bf16")) == "COOPERLAKE")
        #expect(BLASKernel.recommendedCoreType(cpuinfo: Self.cpuinfo(vendor: "GenuineIntel", flags: base)) == "HASWELL")
        #expect(BLASKernel.recommendedCoreType(cpuinfo: Self.cpuinfo(vendor: "AuthenticAMD", flags: base)) == "ZEN")
        #expect(BLASKernel.recommendedCoreType(cpuinfo: Self.cpuinfo(vendor: "GenuineIntel", flags: "fpu sse sse2 avx")) == "SANDYBRIDGE")
        #expect(BLASKernel.recommendedCoreType(cpuinfo: Self.cpuinfo(vendor: "GenuineIntel", flags: "fpu sse sse2")) == nil)
        #expect(BLASKernel.recommendedCoreType(cpuinfo: "no flags here") == nil)
    }

    @Test func thisMachinesKernelIsNamed() {
        #expect(!BLASKernel.current.isEmpty)
    }
}
