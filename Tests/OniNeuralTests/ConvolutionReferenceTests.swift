import Foundation
import OniCore
import OniNeural
import Testing

/// `Conv2d` (im2col along runs, chunked, fused ELU; and in Float32 the direct kernel where the
/// CPU runs it, and im2col) against convolution written as plain loops, forward and backward,
/// for the geometries the network uses and some it does not.
@Suite struct ConvolutionReferenceTests {
    struct Geometry: CustomStringConvertible, Sendable {
        var channels: Int, height: Int, width: Int, filters: Int, kernel: (Int, Int), padding: (Int, Int)
        var oneDimensional: Bool { height == 1 && kernel.0 == 1 }
        var description: String { "\(channels)×\(height)×\(width) → \(filters), kernel \(kernel), padding \(padding)" }
        var outputHeight: Int { height + 2 * padding.0 - kernel.0 + 1 }
        var outputWidth: Int { width + 2 * padding.1 - kernel.1 + 1 }
    }

    static let geometries = [
        Geometry(channels: 3, height: 7, width: 13, filters: 4, kernel: (3, 3), padding: (1, 1)),  // the grid's map
        Geometry(channels: 2, height: 9, width: 9, filters: 3, kernel: (3, 3), padding: (1, 1)),  // NetHack's crop
        Geometry(channels: 2, height: 1, width: 11, filters: 3, kernel: (1, 3), padding: (0, 1)),  // the message encoder
        Geometry(channels: 1, height: 4, width: 6, filters: 2, kernel: (2, 2), padding: (0, 0)),
        Geometry(channels: 2, height: 5, width: 6, filters: 2, kernel: (3, 3), padding: (0, 0)),
        Geometry(channels: 1, height: 6, width: 5, filters: 2, kernel: (5, 5), padding: (2, 2)),
        Geometry(channels: 2, height: 3, width: 4, filters: 2, kernel: (3, 3), padding: (2, 2)),  // wider than the input
        // The direct kernel's blocks: 16 filters (the network's), 16 + 4 + 1, rows wider than 16 lanes.
        Geometry(channels: 8, height: 9, width: 9, filters: 16, kernel: (3, 3), padding: (1, 1)),
        Geometry(channels: 3, height: 5, width: 37, filters: 21, kernel: (3, 3), padding: (1, 1)),
        Geometry(channels: 16, height: 1, width: 40, filters: 8, kernel: (1, 3), padding: (0, 1)),
    ]

    static func make<S: Scalar>(_ g: Geometry, elu: Bool, direct: Bool = true, rng: inout SeededGenerator) -> Conv2d<S> {
        let activation: Activation<S>.Kind? = elu ? .elu : nil
        if g.oneDimensional {
            return Conv2d(
                name: "c", channels: g.channels, length: g.width, filters: g.filters, kernel: g.kernel.1, padding: g.padding.1, activation: activation,
                direct: direct, rng: &rng)
        }
        if g.kernel.0 == g.kernel.1 && g.padding.0 == g.padding.1 {
            return Conv2d(
                name: "c", channels: g.channels, height: g.height, width: g.width, filters: g.filters, kernel: g.kernel.0, padding: g.padding.0,
                activation: activation, direct: direct, rng: &rng)
        }
        preconditionFailure("no initialiser for \(g)")
    }

    @Test(arguments: geometries, [false, true])
    func matchesPlainLoops(_ g: Geometry, elu: Bool) {
        var rng = SeededGenerator(seed: 31)
        let conv: Conv2d<Double> = Self.make(g, elu: elu, rng: &rng)
        Self.compare(conv, g, elu: elu, tolerance: 1e-9)
    }

    /// Float32, the direct kernel where it applies ("same" padding on a CPU with AVX-512F, or AVX2 and FMA) and
    /// im2col: relative to the reference's largest magnitude, within 1e-5.
    @Test(arguments: geometries, [false, true])
    func float32MatchesPlainLoops(_ g: Geometry, elu: Bool) {
        let same = g.outputHeight == g.height && g.outputWidth == g.width
        for direct in [true, false] {
            var rng = SeededGenerator(seed: 31)
            let conv: Conv2d<Float> = Self.make(g, elu: elu, direct: direct, rng: &rng)
            #expect(conv.direct == (direct && same && Self.cpuRunsKernels), "\(g)")
            Self.compare(conv, g, elu: elu, tolerance: 1e-5)
        }
    }

    /// The instructions /proc/cpuinfo lists that the kernels use, read apart from their own check.
    static let cpuFlags = Set(
        ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "").split(separator: "\n")
            .first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
    static let cpuInstructions = cpuFlags.contains("avx512f") ? "AVX-512" : cpuFlags.isSuperset(of: ["avx2", "fma"]) ? "AVX2" : "none"
    static var cpuRunsKernels: Bool { cpuInstructions != "none" }

    @Test func theKernelsRunWhereTheCPUHasAVX512FOrAVX2() {
        #expect(Kernels.instructions == Self.cpuInstructions)
        #expect(Kernels.run == Self.cpuRunsKernels)
        print("ConvolutionReferenceTests: kernels with \(Kernels.instructions)\(Kernels.run ? "" : ": the tests check im2col and sgemm only")")
    }

    static func compare<S: Scalar>(_ conv: Conv2d<S>, _ g: Geometry, elu: Bool, tolerance: Double) {
        var rng = SeededGenerator(seed: 32)
        conv.bias.value = GradientCheckTests.random(g.filters, &rng).map { S($0) }
        // Enough examples for several chunks of the layer's im2col.
        let batch = conv.chunk * 2 + 3
        let x = GradientCheckTests.random(batch * conv.inputSize, &rng).map { Double(S($0)) }
        let dy = GradientCheckTests.random(batch * conv.outputSize, &rng).map { Double(S($0)) }
        let (kh, kw) = g.kernel, (ph, pw) = g.padding, (oh, ow) = (g.outputHeight, g.outputWidth)
        let w = conv.weight.value.map { Double($0) }
        let biasValues = conv.bias.value.map { Double($0) }
        func weight(_ f: Int, _ c: Int, _ ky: Int, _ kx: Int) -> Double { w[((f * g.channels + c) * kh + ky) * kw + kx] }
        func input(_ b: Int, _ c: Int, _ y: Int, _ x0: Int) -> Double? {
            guard y >= 0, y < g.height, x0 >= 0, x0 < g.width else { return nil }
            return x[((b * g.channels + c) * g.height + y) * g.width + x0]
        }
        // Forward.
        var preActivation = [Double](repeating: 0, count: batch * conv.outputSize)
        for b in 0..<batch {
            for f in 0..<g.filters {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var sum = biasValues[f]
                        for c in 0..<g.channels {
                            for ky in 0..<kh {
                                for kx in 0..<kw { sum += weight(f, c, ky, kx) * (input(b, c, oy + ky - ph, ox + kx - pw) ?? 0) }
                            }
                        }
                        preActivation[((b * g.filters + f) * oh + oy) * ow + ox] = sum
                    }
                }
            }
        }
        let expected = preActivation.map { elu && $0 <= 0 ? Foundation.expm1($0) : $0 }
        for _ in 0..<2 {  // twice: the kept scratch gives the same answers
            for p in conv.parameters { p.zeroGradient() }
            let y = conv.forward(x.map { S($0) }, batch: batch).map { Double($0) }
            #expect(Self.error(y, expected) <= tolerance, "forward, \(g), direct \(conv.direct)")
            // Backward: dX[c, y, x] = Σ W[f, c, ky, kx] · dZ[f, oy, ox] where the tap reads (y, x); dZ through ELU.
            let dz = zip(dy, preActivation).map { d, z in elu && z <= 0 ? d * Foundation.exp(z) : d }
            var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
            var db = [Double](repeating: 0, count: g.filters)
            for b in 0..<batch {
                for f in 0..<g.filters {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let d = dz[((b * g.filters + f) * oh + oy) * ow + ox]
                            db[f] += d
                            for c in 0..<g.channels {
                                for ky in 0..<kh {
                                    for kx in 0..<kw {
                                        let yy = oy + ky - ph, xx = ox + kx - pw
                                        guard let v = input(b, c, yy, xx) else { continue }
                                        dx[((b * g.channels + c) * g.height + yy) * g.width + xx] += weight(f, c, ky, kx) * d
                                        dw[((f * g.channels + c) * kh + ky) * kw + kx] += v * d
                                    }
                                }
                            }
                        }
                    }
                }
            }
            let gradient = conv.backward(dy.map { S($0) }).map { Double($0) }
            #expect(Self.error(gradient, dx) <= tolerance, "input gradient, \(g), direct \(conv.direct)")
            #expect(Self.error(conv.weight.gradient.map { Double($0) }, dw) <= tolerance, "weight gradient, \(g), direct \(conv.direct)")
            #expect(Self.error(conv.bias.gradient.map { Double($0) }, db) <= tolerance, "bias gradient, \(g), direct \(conv.direct)")
        }
    }

    /// The largest difference over max(1, the reference's largest magnitude); infinite if the lengths differ.
    static func error(_ a: [Double], _ reference: [Double]) -> Double {
        guard a.count == reference.count else { return .infinity }
        let scale = max(1, reference.map(abs).max() ?? 0)
        return zip(a, reference).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }
}
