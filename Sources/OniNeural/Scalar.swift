import CBLAS
import CKernels
import Foundation

/// The element types the network runs in: Float32 in the product, Float64 in
/// gradient checks. Matrix products go to OpenBLAS (sgemm / dgemm), except Float32 products with
/// few rows, which go to `oni_narrow_gemm` where `Kernels.run` (see `MatMul.isNarrow`).
public protocol Scalar: BinaryFloatingPoint, Sendable {
    /// C = alpha · op(A) · op(B) + beta · C, row-major; op(X) is X or Xᵀ.
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int, beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static func exp(_ x: Self) -> Self
    /// y = eˣ − 1 for x ≤ 0 and x otherwise (ELU), elementwise over `count` elements.
    static func elu(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    static func log(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    /// 1 / (1 + e⁻ˣ).
    static func sigmoid(_ x: Self) -> Self
    /// `values` as Float32 (the wire's and the checkpoints' type): one copy, no per-element
    /// generic conversion (which, unspecialised, cost as much as an update for a weight broadcast).
    static func floats(_ values: [Self]) -> [Float]
    /// Float32 `values` in this type.
    static func converting(_ values: [Float]) -> [Self]
    /// Σ x² in Float64 (large Float32 values do not overflow it), in an order fixed by `count`
    /// alone: the same values give the same sum on every call and thread.
    static func sumOfSquares(_ x: UnsafePointer<Self>, count: Int) -> Double
    /// Adam's update of `count` weights, each element by the same operations (none fused):
    /// g ← g·scale, m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g·g, w ← w − stepSize·m / (√(v·inverseCorrection2) + ε), g ← 0.
    static func adamUpdate(
        weights w: UnsafeMutablePointer<Self>, gradients g: UnsafeMutablePointer<Self>, first m: UnsafeMutablePointer<Self>,
        second v: UnsafeMutablePointer<Self>, count: Int, scale: Self, beta1: Self, beta2: Self, stepSize: Self,
        inverseCorrection2: Self, epsilon: Self)
}

extension Float: Scalar {
    @inline(__always) public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if MatMul.isNarrow(transposeA: transposeA, m: m, n: n, k: k, alpha: alpha, beta: beta) {
            oni_narrow_gemm(transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
            return
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inline(__always) public static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    /// ELU through `exponential`, so the loop vectorises (libm's expm1f is one call per element).
    public static func elu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            y[i] = v > 0 ? v : exponential(v) - 1
        }
    }
    /// A branch-free eˣ that inlines and vectorises: x = n·ln 2 + r with |r| ≤ ln 2 / 2, eʳ by
    /// its degree-6 Taylor polynomial (relative error < 2·10⁻⁷ over the range), 2ⁿ put into the
    /// exponent bits. x is clamped to [−87, 88]: below, e⁻⁸⁷ ≈ 0 stands for 0; above, e⁸⁸ for ∞.
    @inline(__always) public static func exponential(_ x: Float) -> Float {
        let t = Swift.max(Swift.min(x, 88), -87)
        // n = round(t / ln 2) by the 1.5·2²³ trick: the sum's low mantissa bits hold n.
        let shifted = t * 1.442695041 + 12_582_912
        let n = shifted - 12_582_912
        let r = t - n * 0.693359375 + n * 2.12194440e-4  // ln 2 in two parts, for precision
        var p: Float = 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        return p * Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
    }
    /// σ(x) = 1 / (1 + e⁻ˣ) through `exponential` (vectorises; absolute error < 10⁻⁷).
    @inline(__always) public static func sigmoid(_ x: Float) -> Float { 1 / (1 + exponential(-x)) }
    /// tanh through `exponential`, so the GRU's loops vectorise (glibc's tanhf is a call into
    /// expm1f per element, ~5% of a GRU update): (1 − e⁻²ᵃ)/(1 + e⁻²ᵃ) for a = |x| ≥ 1/4, and
    /// below it the odd Taylor polynomial to x⁹ (where the quotient would lose digits to the
    /// subtraction). Relative error < 5·10⁻⁷.
    @inline(__always) public static func tanh(_ x: Float) -> Float {
        let a = Swift.min(Swift.abs(x), 10)
        let e = exponential(-2 * a)
        let large = (1 - e) / (1 + e)
        let a2 = a * a
        var p: Float = 62.0 / 2835
        p = p * a2 - 17.0 / 315
        p = p * a2 + 2.0 / 15
        p = p * a2 - 1.0 / 3
        p = p * a2 + 1
        let t = a < 0.25 ? a * p : large
        return Float(signOf: x, magnitudeOf: t)
    }
    @inline(__always) public static func log(_ x: Float) -> Float { Foundation.log(x) }
    public static func floats(_ values: [Float]) -> [Float] { values }
    public static func converting(_ values: [Float]) -> [Float] { values }
    /// Eight lanes, then the lanes in order, then the remainder (`oni_sum_of_squares`).
    @inline(__always) public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double { oni_sum_of_squares(x, count) }
    /// Four elements at a time in C (`oni_adam_update`, SSE2): Swift's square root of a vector is
    /// a call per lane on Linux, and SIMD `addProduct` a libm `fma` call per lane.
    @inline(__always) public static func adamUpdate(
        weights w: UnsafeMutablePointer<Float>, gradients g: UnsafeMutablePointer<Float>, first m: UnsafeMutablePointer<Float>,
        second v: UnsafeMutablePointer<Float>, count: Int, scale: Float, beta1: Float, beta2: Float, stepSize: Float,
        inverseCorrection2: Float, epsilon: Float
    ) {
        oni_adam_update(w, g, m, v, count, scale, beta1, beta2, stepSize, inverseCorrection2, epsilon)
    }
}

extension Double: Scalar {
    @inline(__always) public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int, beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inline(__always) public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    public static func elu(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, count: Int) {
        for i in 0..<count { y[i] = x[i] > 0 ? x[i] : Foundation.expm1(x[i]) }
    }
    @inline(__always) public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inline(__always) public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inline(__always) public static func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
    public static func floats(_ values: [Double]) -> [Float] { values.map { Float($0) } }
    public static func converting(_ values: [Float]) -> [Double] { values.map { Double($0) } }
    /// In order (gradient checks: not a hot path).
    public static func sumOfSquares(_ x: UnsafePointer<Double>, count: Int) -> Double {
        var total = 0.0
        for i in 0..<count { total += x[i] * x[i] }
        return total
    }
    public static func adamUpdate(
        weights w: UnsafeMutablePointer<Double>, gradients g: UnsafeMutablePointer<Double>, first m: UnsafeMutablePointer<Double>,
        second v: UnsafeMutablePointer<Double>, count: Int, scale: Double, beta1 b1: Double, beta2 b2: Double, stepSize: Double,
        inverseCorrection2: Double, epsilon: Double
    ) {
        for j in 0..<count {
            let gj = g[j] * scale
            let mj = b1 * m[j] + (1 - b1) * gj
            let vj = b2 * v[j] + (1 - b2) * gj * gj
            m[j] = mj
            v[j] = vj
            w[j] -= stepSize * mj / ((vj * inverseCorrection2).squareRoot() + epsilon)
            g[j] = 0
        }
    }
}

/// Row-major matrix product helpers over Swift arrays.
public enum MatMul {
    /// The Float32 products `oni_narrow_gemm` takes where `Kernels.run`: at most 32 rows of A, not transposed, an inner dimension
    /// up to 2,048 (A's transpose stays in cache), at least 8 columns, alpha 1 and beta 0 or 1.
    /// Measured on the worker's inference and a GRU's steps, where sgemm repacks B on every call.
    @inline(__always)
    public static func isNarrow(transposeA: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float) -> Bool {
        Kernels.run && !transposeA && m <= 32 && (1...2048).contains(k) && n >= 8 && alpha == 1 && (beta == 0 || beta == 1)
    }

    /// C[m×n] (+)= op(A) · op(B) with A stored [m×k] (or [k×m] if transposed) and B [k×n] (or [n×k]).
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public static func multiply<S: Scalar>(
        _ a: [S], _ b: [S], into c: inout [S], m: Int, n: Int, k: Int,
        transposeA: Bool = false, transposeB: Bool = false, accumulate: Bool = false
    ) {
        precondition(a.count >= m * k && b.count >= k * n && c.count >= m * n, "matrix sizes do not match")
        guard m > 0, n > 0 else { return }
        if k == 0 {
            if !accumulate { for i in 0..<(m * n) { c[i] = 0 } }
            return
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    S.gemm(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                        a: pa.baseAddress!, lda: transposeA ? m : k, b: pb.baseAddress!, ldb: transposeB ? k : n,
                        beta: accumulate ? 1 : 0, c: pc.baseAddress!, ldc: n)
                }
            }
        }
    }

    /// Every one of `rows` rows of the row-major `matrix` set to `vector` (a bias, before the
    /// product is added onto it).
    @inline(__always)
    public static func fillRows<S: Scalar>(_ matrix: UnsafeMutableBufferPointer<S>, rows: Int, with vector: UnsafeBufferPointer<S>) {
        let columns = vector.count
        precondition(matrix.count >= rows * columns, "fillRows: matrix too small")
        guard columns > 0, let target = matrix.baseAddress, let source = vector.baseAddress else { return }
        for row in 0..<rows { (target + row * columns).update(from: source, count: columns) }
    }

    /// sums[j] += Σ_rows matrix[row, j] for a row-major [rows, columns] matrix (bias gradients),
    /// over pointers so the inner loop vectorises.
    @inline(__always)
    public static func addColumnSums<S: Scalar>(
        _ matrix: UnsafeBufferPointer<S>, rows: Int, columns: Int, into sums: UnsafeMutableBufferPointer<S>
    ) {
        precondition(matrix.count >= rows * columns && sums.count >= columns, "addColumnSums: buffers too small")
        guard rows > 0, columns > 0, let matrix = matrix.baseAddress, let sums = sums.baseAddress else { return }
        for row in 0..<rows {
            let line = matrix + row * columns
            for j in 0..<columns { sums[j] += line[j] }
        }
    }
}
