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
        // `short` vectors of length `long`, made orthonormal by modified Gram–Schmidt.
        var vectors = (0..<short).map { _ in (0..<long).map { _ in gaussian(&rng) } }
        for i in 0..<short {
            for j in 0..<i {
                let dot = zip(vectors[i], vectors[j]).reduce(0) { $0 + $1.0 * $1.1 }
                for k in 0..<long { vectors[i][k] -= dot * vectors[j][k] }
            }
            let norm = vectors[i].reduce(0) { $0 + $1 * $1 }.squareRoot()
            for k in 0..<long { vectors[i][k] /= max(norm, 1e-12) }
        }
        var result = [S](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns {
                let v = rows <= columns ? vectors[r][c] : vectors[c][r]
                result[r * columns + c] = S(v * gain)
            }
        }
        return result
    }
}
