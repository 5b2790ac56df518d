import OniCore

/// A lookup table [vocabulary, dimension]: each index becomes its row.
/// Input: `count` indices per example; output: [batch, count × dimension].
public final class Embedding<S: Scalar> {
    public let vocabulary: Int
    public let dimension: Int
    public let count: Int
    public let table: Parameter<S>
    private var indices: [Int32] = []
    /// The output, kept between passes.
    private var output: [S] = []

    public init(name: String, vocabulary: Int, dimension: Int, count: Int, rng: inout SeededGenerator) {
        self.vocabulary = vocabulary
        self.dimension = dimension
        self.count = count
        table = Parameter(
            name: "\(name).weight", shape: [vocabulary, dimension],
            value: (0..<(vocabulary * dimension)).map { _ in S(Initialization.gaussian(&rng)) })
    }

    public var parameters: [Parameter<S>] { [table] }
    public var outputSize: Int { count * dimension }

    /// Looks up `indices` ([batch, count], each in 0..<vocabulary; others clamp to the last row).
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ indices: [Int32], batch: Int) -> [S] {
        precondition(indices.count == batch * count, "Embedding: \(indices.count) indices for batch \(batch) × \(count)")
        self.indices = indices
        output.reuse(count: indices.count * dimension)
        let dimension = self.dimension, last = Int32(vocabulary - 1)
        output.withUnsafeMutableBufferPointer { out in
            table.value.withUnsafeBufferPointer { table in
                for (position, index) in indices.enumerated() {
                    let row = Int(min(max(index, 0), last))
                    (out.baseAddress! + position * dimension).update(from: table.baseAddress! + row * dimension, count: dimension)
                }
            }
        }
        return output
    }

    /// Adds dLoss/dOutput into the rows that were looked up.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) {
        var gradient = table.gradient
        let dimension = self.dimension
        table.gradient = []  // unshared, so the loop writes in place
        defer {
            table.gradient = gradient
            indices = []  // the producer's buffer is its own again
        }
        for (position, index) in indices.enumerated() {
            let row = Int(min(max(index, 0), Int32(vocabulary - 1)))
            for d in 0..<dimension { gradient[row * dimension + d] += outputGradient[position * dimension + d] }
        }
    }
}
