import Foundation

/// Several runs' curves of one metric made into one: interpolated onto a common grid, then the
/// mean with a band (standard error or min–max), optionally smoothed. Three seeds, one curve.
public enum CurveAggregation {
    public enum Band: String, CaseIterable, Sendable {
        /// Mean ± standard error of the mean across runs.
        case stderr
        /// The lowest and highest run at each point.
        case minmax
        /// No band.
        case none
    }

    /// One aggregated curve.
    public struct Aggregate: Sendable {
        public var x: [Double]
        public var mean: [Double]
        public var low: [Double]
        public var high: [Double]
    }

    /// `curve` (sorted by x) at `x`, linearly interpolated; nil outside its range.
    public static func value(of curve: [(x: Double, y: Double)], at x: Double) -> Double? {
        guard let first = curve.first, let last = curve.last, x >= first.x, x <= last.x else { return nil }
        var low = 0, high = curve.count - 1
        while high - low > 1 {
            let middle = (low + high) / 2
            if curve[middle].x <= x { low = middle } else { high = middle }
        }
        let (a, b) = (curve[low], curve[high])
        guard b.x > a.x else { return a.y }
        return a.y + (b.y - a.y) * (x - a.x) / (b.x - a.x)
    }

    /// The curves' mean on `points` evenly spaced x values over the range every curve covers.
    public static func aggregate(_ curves: [[(x: Double, y: Double)]], points: Int = 200, band: Band) -> Aggregate? {
        let sorted = curves.map { $0.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x < $1.x } }.filter { !$0.isEmpty }
        guard !sorted.isEmpty, let start = sorted.map({ $0.first!.x }).max(), let end = sorted.map({ $0.last!.x }).min(), end >= start else {
            return nil
        }
        let count = end > start ? max(points, 2) : 1
        var result = Aggregate(x: [], mean: [], low: [], high: [])
        for i in 0..<count {
            let x = count == 1 ? start : start + (end - start) * Double(i) / Double(count - 1)
            let ys = sorted.compactMap { value(of: $0, at: x) }
            let mean = ys.reduce(0, +) / Double(ys.count)
            var low = mean, high = mean
            switch band {
            case .stderr where ys.count > 1:
                let variance = ys.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(ys.count - 1)
                let se = (variance / Double(ys.count)).squareRoot()
                (low, high) = (mean - se, mean + se)
            case .minmax:
                (low, high) = (ys.min()!, ys.max()!)
            default:
                break
            }
            result.x.append(x)
            result.mean.append(mean)
            result.low.append(low)
            result.high.append(high)
        }
        return result
    }

    /// A centred moving average over `window` points (1 = unchanged).
    public static func smooth(_ values: [Double], window: Int) -> [Double] {
        guard window > 1, values.count > 1 else { return values }
        let half = window / 2
        return values.indices.map { i in
            let range = max(0, i - half)...min(values.count - 1, i + half)
            return values[range].reduce(0, +) / Double(range.count)
        }
    }

    /// The shortest path suffix (in whole components) that tells each path from the others:
    /// `runs/vault/seed1`, `runs/keyroom/seed1` → `vault/seed1`, `keyroom/seed1`.
    public static func distinctNames(_ paths: [String]) -> [String] {
        let components = paths.map { path in
            path.split(separator: "/").map(String.init).filter { $0 != "." }
        }
        return components.enumerated().map { index, parts in
            guard !parts.isEmpty else { return paths[index] }
            for length in 1...parts.count {
                let suffix = parts.suffix(length)
                let clashes = components.enumerated().contains { other, otherParts in
                    other != index && Array(otherParts.suffix(length)) == Array(suffix)
                }
                if !clashes { return suffix.joined(separator: "/") }
            }
            return paths[index]
        }
    }
}
