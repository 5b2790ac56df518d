import Foundation
import OniCore

/// Weight initialisations.
public enum Initialization {
    /// A standard normal sample (Box–Muller).
    public static func gaussian(_ rng: inout SeededGenerator) -> Double {
        let u1 = max(Double(rng.next() >> 11) / Double(1 << 53), Double.leastNonzeroMagnitude)
        let u2 = Double(rng.next() >> 11) / Double(1 << 53)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// A [rows × columns] matrix with orthonormal rows (rows ≤ columns) or
    /// orthonormal columns (rows > columns), times `gain` (Saxe et al. 2014).
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public static func orthogonal<S: Scalar>(rows: Int, columns: Int, gain: Double, rng: inout SeededGenerator) -> [S] {
        let (short, long) = rows <= columns ? (rows, columns) : (columns, rows)
        // `short` vectors of length `long` (one flat buffer), made orthonormal by modified
        // Gram–Schmidt; the same operations in the same order as a plain nested loop.
        var flat = [Double](repeating: 0, count: short * long)
        for i in 0..<(short * long) { flat[i] = gaussian(&rng) }
        flat.withUnsafeMutableBufferPointer { v in
            let base = v.baseAddress!
            for i in 0..<short {
                let vi = base + i * long
                for j in 0..<i {
                    let vj = UnsafePointer(base + j * long)
                    var dot = 0.0
                    for k in 0..<long { dot += vi[k] * vj[k] }
                    for k in 0..<long { vi[k] -= dot * vj[k] }
                }
                var squares = 0.0
                for k in 0..<long { squares += vi[k] * vi[k] }
                let norm = max(squares.squareRoot(), 1e-12)
                for k in 0..<long { vi[k] /= norm }
            }
        }
        var result = [S](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns {
                let v = rows <= columns ? flat[r * long + c] : flat[c * long + r]
                result[r * columns + c] = S(v * gain)
            }
        }
        return result
    }
}
