import CBLAS
import Foundation
import OniCore
import OniNeural
import Synchronization
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

    /// Products with few rows (`oni_narrow_gemm` where `Kernels.run`, else sgemm) against a
    /// plain loop: both forms of B, beta 0 and 1, leading dimensions wider than the matrices,
    /// row counts on both sides of its 16-row blocks, column counts on both sides of its blocks.
    @Test(arguments: [(1, 8, 1), (5, 23, 256), (16, 768, 256), (17, 9, 300), (32, 256, 768), (3, 100, 2048), (13, 40, 64), (29, 17, 33)])
    func narrowProductsMatchAPlainReference(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        #expect(MatMul.isNarrow(transposeA: false, m: m, n: n, k: k, alpha: 1, beta: 1) == ConvolutionReferenceTests.cpuRunsKernels)
        var rng = SeededGenerator(seed: UInt64(m * 1000 + n))
        let (lda, ldb, ldc) = (k + 3, (n + 5), n + 2)  // B [k × n] with ldb; Bᵀ stored [n × k] with k + 1
        let a = (0..<(m * lda)).map { _ in Float(Initialization.gaussian(&rng)) }
        let b = (0..<(k * ldb)).map { _ in Float(Initialization.gaussian(&rng)) }
        let bt: [Float] = (0..<(n * (k + 1))).map { i in i % (k + 1) < k ? b[(i % (k + 1)) * ldb + i / (k + 1)] : .nan }
        let start = (0..<(m * ldc)).map { _ in Float(Initialization.gaussian(&rng)) }
        for transposeB in [false, true] {
            for beta: Float in [0, 1] {
                var c = start
                b.withUnsafeBufferPointer { pb in
                    bt.withUnsafeBufferPointer { pbt in
                        a.withUnsafeBufferPointer { pa in
                            c.withUnsafeMutableBufferPointer { pc in
                                Float.gemm(
                                    transposeA: false, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: pa.baseAddress!, lda: lda,
                                    b: transposeB ? pbt.baseAddress! : pb.baseAddress!, ldb: transposeB ? k + 1 : ldb, beta: beta,
                                    c: pc.baseAddress!, ldc: ldc)
                            }
                        }
                    }
                }
                var worst = 0.0
                for i in 0..<m {
                    for j in 0..<ldc {
                        guard j < n else {  // outside the product: untouched
                            #expect(c[i * ldc + j] == start[i * ldc + j])
                            continue
                        }
                        var sum = beta == 1 ? Double(start[i * ldc + j]) : 0
                        for p in 0..<k { sum += Double(a[i * lda + p]) * Double(b[p * ldb + j]) }
                        worst = max(worst, abs(Double(c[i * ldc + j]) - sum) / max(1, abs(sum)))
                    }
                }
                #expect(worst < 1e-4, "m \(m) n \(n) k \(k) transposeB \(transposeB) beta \(beta): relative error \(worst)")
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
        let adam = Adam(parameters: [a, b], learningRate: 1, beta1: 0, beta2: 0, epsilon: 1e-12, maxGradientNorm: 1)
        #expect(adam.step() == 5)
        // With β = 0 the step is g/(|g| + ε) per element: signs survive clipping, and a weight
        // with no gradient stays where it was (finite: 0/(0 + ε), not 0/0).
        #expect(zip(a.value + b.value, [-1.0, 0, -1]).allSatisfy { abs($0 - $1) < 1e-9 }, "\(a.value) \(b.value)")
    }

    /// The step (Float32: four elements at a time in C, then the rest) against Adam written out one element at
    /// a time, over sizes with and without a remainder, clipped, in Float32 and Float64.
    @Test func stepsMatchAPlainLoopElementByElement() {
        func check<S: Scalar>(_: S.Type) {
            let shapes = [[3], [8], [13, 5], [1], [250]]
            var rng = SeededGenerator(seed: 11)
            let ps = shapes.enumerated().map { i, shape in
                Parameter<S>(name: "p\(i)", shape: shape, value: (0..<shape.reduce(1, *)).map { _ in S(Double.random(in: -1...1, using: &rng)) })
            }
            var w = ps.map(\.value), m = ps.map { [Double](repeating: 0, count: $0.count) }, v = m
            let (lr, b1, b2, eps, limit) = (0.01, 0.9, 0.999, 1e-6, 3.0)
            let adam = Adam(parameters: ps, learningRate: S(lr), beta1: S(b1), beta2: S(b2), epsilon: S(eps), maxGradientNorm: S(limit))
            for t in 1...4 {
                let g = ps.map { p in (0..<p.count).map { _ in Double.random(in: -2...2, using: &rng) } }
                for (p, gi) in zip(ps, g) { p.gradient = gi.map { S($0) } }
                let norm = g.joined().reduce(0) { $0 + $1 * $1 }.squareRoot()
                #expect(abs(Double(adam.step()) - norm) < 1e-5 * norm)
                let scale = norm > limit ? limit / norm : 1
                for i in ps.indices {
                    for j in g[i].indices {
                        let gj = g[i][j] * scale
                        m[i][j] = b1 * m[i][j] + (1 - b1) * gj
                        v[i][j] = b2 * v[i][j] + (1 - b2) * gj * gj
                        let mHat = m[i][j] / (1 - Foundation.pow(b1, Double(t))), vHat = v[i][j] / (1 - Foundation.pow(b2, Double(t)))
                        w[i][j] -= S(lr * mHat / (vHat.squareRoot() + eps))
                    }
                }
            }
            for i in ps.indices {
                for j in w[i].indices {
                    #expect(abs(Double(ps[i].value[j] - w[i][j])) < 1e-5, "\(S.self) p\(i)[\(j)]: \(ps[i].value[j]) vs \(w[i][j])")
                    #expect(abs(Double(adam.firstMoments[i][j]) - m[i][j]) < 1e-5 && abs(Double(adam.secondMoments[i][j]) - v[i][j]) < 1e-5)
                    #expect(ps[i].gradient[j] == 0)
                }
            }
        }
        check(Float.self)
        check(Double.self)
    }

    /// A step on several threads, each parameter's second half of the gradient added by `reduce`
    /// on the thread that steps it, gives bit for bit the weights, moments and norm of one
    /// thread stepping the whole gradient (clipped, over three steps).
    @Test(arguments: [2, 3, 7])
    func aStepOnThreadsIsTheStepOnOne(threads: Int) {
        let shapes = [[300, 7], [1], [64], [5, 33], [1000], [0], [17]]
        var rng = SeededGenerator(seed: 5)
        func parameters() -> [Parameter<Float>] {
            var weights = SeededGenerator(seed: 9)
            return shapes.enumerated().map { i, shape in
                Parameter(name: "p\(i)", shape: shape, value: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &weights) })
            }
        }
        let one = parameters(), many = parameters()
        let serial = Adam(parameters: one, learningRate: 0.01, maxGradientNorm: 2)
        let parallel = Adam(parameters: many, learningRate: 0.01, maxGradientNorm: 2)
        for _ in 0..<3 {
            var halves: [[Float]] = []
            for (a, b) in zip(one, many) {
                let first = (0..<a.count).map { _ in Float.random(in: -1...1, using: &rng) }, second = (0..<a.count).map { _ in Float.random(in: -1...1, using: &rng) }
                a.gradient = zip(first, second).map { $0 + $1 }
                b.gradient = first
                halves.append(second)
            }
            let reduced = Mutex(Set<Int>())
            let expected = serial.step()
            let norm = parallel.step(threads: threads) { i in
                for j in many[i].gradient.indices { many[i].gradient[j] += halves[i][j] }
                reduced.withLock { _ = $0.insert(i) }
            }
            #expect(norm == expected && norm > 2)
            #expect(reduced.withLock { $0 } == Set(many.indices))
        }
        for (a, b) in zip(one, many) {
            #expect(a.value == b.value && b.gradient.allSatisfy { $0 == 0 }, "\(a.name)")
        }
        #expect(serial.firstMoments == parallel.firstMoments && serial.secondMoments == parallel.secondMoments && serial.steps == parallel.steps)
    }
}
