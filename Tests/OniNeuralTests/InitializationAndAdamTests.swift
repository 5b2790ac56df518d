import CBLAS
import Foundation
import OniCore
import OniNeural
import Testing

@Suite struct InitializationTests {
    @Test(arguments: [(4, 9), (9, 4), (6, 6)])
    func orthogonalRowsOrColumnsAreOrthonormal(rows: Int, columns: Int) {
        var rng = SeededGenerator(seed: 11)
        let w: [Double] = Initialization.orthogonal(rows: rows, columns: columns, gain: 1, rng: &rng)
        // Gram matrix of the shorter side is the identity.
        let short = min(rows, columns)
        for i in 0..<short {
            for j in 0..<short {
                var dot = 0.0
                if rows <= columns {
                    for k in 0..<columns { dot += w[i * columns + k] * w[j * columns + k] }
                } else {
                    for k in 0..<rows { dot += w[k * columns + i] * w[k * columns + j] }
                }
                #expect(abs(dot - (i == j ? 1 : 0)) < 1e-9)
            }
        }
    }
}

@Suite struct MatMulTests {
    /// OpenBLAS sgemm (whatever kernel it picked on this CPU) against a plain loop.
    @Test(arguments: [false, true])
    func sgemmMatchesAPlainReference(transpose: Bool) {
        var rng = SeededGenerator(seed: 12)
        let m = 37, n = 29, k = 53
        let a = (0..<(m * k)).map { _ in Float(Initialization.gaussian(&rng)) }
        let b = (0..<(k * n)).map { _ in Float(Initialization.gaussian(&rng)) }
        var c = [Float](repeating: 0, count: m * n)
        // With transpose, B is stored [n, k] and used as its transpose.
        let stored: [Float] = transpose ? (0..<(n * k)).map { i in b[(i % k) * n + i / k] } : b
        MatMul.multiply(a, stored, into: &c, m: m, n: n, k: k, transposeB: transpose)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += Double(a[i * k + p]) * Double(b[p * n + j]) }
                #expect(abs(Double(c[i * n + j]) - sum) < 1e-3 * max(1, abs(sum)))
            }
        }
    }
}

@Suite struct AdamTests {
    @Test func minimisesAQuadratic() {
        // f(w) = Σ (w − t)², gradient 2(w − t).
        let target: [Double] = [3, -1, 0.5, 2]
        let w = Parameter<Double>(name: "w", shape: [4], value: [0, 0, 0, 0])
        let adam = Adam(parameters: [w], learningRate: 0.05, maxGradientNorm: nil)
        for _ in 0..<2000 {
            for i in 0..<4 { w.gradient[i] = 2 * (w.value[i] - target[i]) }
            adam.step()
        }
        for i in 0..<4 { #expect(abs(w.value[i] - target[i]) < 1e-3) }
        #expect(w.gradient == [0, 0, 0, 0])  // zeroed after the step
    }

    @Test func firstStepMovesEachWeightByTheLearningRate() {
        // Bias-corrected Adam's first step is lr · sign(g) (up to ε), whatever the scale of g.
        let w = Parameter<Double>(name: "w", shape: [3], value: [0, 0, 0])
        w.gradient = [1e-3, -50, 7]
        let adam = Adam(parameters: [w], learningRate: 0.1, epsilon: 1e-12, maxGradientNorm: nil)
        adam.step()
        #expect(zip(w.value, [-0.1, 0.1, -0.1]).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func clipsTheGlobalGradientNorm() {
        let a = Parameter<Double>(name: "a", shape: [2], value: [0, 0])
        let b = Parameter<Double>(name: "b", shape: [1], value: [0])
        a.gradient = [3, 0]
        b.gradient = [4]
        #expect(Adam.gradientNorm([a, b]) == 5)
        let adam = Adam(parameters: [a, b], learningRate: 1, beta1: 0, beta2: 0, epsilon: 1e-12, maxGradientNorm: 1)
        #expect(adam.step() == 5)
        // With β = 0 the step is g/(|g| + ε) per element: signs survive clipping, and a weight
        // with no gradient stays where it was (finite: 0/(0 + ε), not 0/0).
        #expect(zip(a.value + b.value, [-1.0, 0, -1]).allSatisfy { abs($0 - $1) < 1e-9 }, "\(a.value) \(b.value)")
    }
}
