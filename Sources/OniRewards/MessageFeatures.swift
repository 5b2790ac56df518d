/// A message as a bag of hashed character 1- to 3-grams (lower-cased, 4,096
/// buckets, L2-normalised): the input of the text reward models. Sparse
/// features are kept per message text, so a label set re-read every training
/// round is featurised once.
public final class MessageFeatures {
    public static let buckets = 4096

    public init() {}

    private var cache: [String: [(index: Int32, value: Float)]] = [:]

    /// The features of `text` as (bucket, value) pairs: a message has ~100 n-grams, not 4,096.
    public static func sparse(_ text: String) -> [(index: Int32, value: Float)] {
        var counts: [Int32: Float] = [:]
        let bytes = Array(text.lowercased().utf8)
        for n in 1...3 where bytes.count >= n {
            for start in 0...(bytes.count - n) {
                var hash: UInt32 = 2_166_136_261 ^ UInt32(n)  // FNV-1a, seeded by the n-gram's length
                for byte in bytes[start..<(start + n)] { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
                counts[Int32(hash % UInt32(buckets)), default: 0] += 1
            }
        }
        let norm = counts.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value / norm) }
    }

    /// The dense features of `text`.
    public static func dense(_ text: String) -> [Float] {
        var dense = [Float](repeating: 0, count: buckets)
        for (index, value) in sparse(text) { dense[Int(index)] = value }
        return dense
    }

    /// Cosine similarity of two texts' features, in [0, 1] (the features are non-negative).
    public static func cosine(_ a: String, _ b: String) -> Double {
        let x = sparse(a), y = sparse(b)
        var i = 0, j = 0
        var dot = 0.0
        while i < x.count && j < y.count {
            if x[i].index == y[j].index {
                dot += Double(x[i].value) * Double(y[j].value)
                i += 1
                j += 1
            } else if x[i].index < y[j].index {
                i += 1
            } else {
                j += 1
            }
        }
        return dot
    }

    /// A batch of rows, one per text, `buckets` wide.
    func dense(_ texts: [String]) -> [Float] {
        var batch = [Float](repeating: 0, count: texts.count * Self.buckets)
        for (row, text) in texts.enumerated() {
            let sparse = cache[text] ?? Self.sparse(text)
            cache[text] = sparse
            for (index, value) in sparse { batch[row * Self.buckets + Int(index)] = value }
        }
        return batch
    }
}
