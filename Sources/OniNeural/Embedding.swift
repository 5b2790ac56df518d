import OniCore

/// A lookup table [vocabulary, dimension]: each index becomes its row, written channel first
/// as a convolution reads it. Input: `count` indices per example; output: [batch, dimension,
/// count] (element (channel d, position p) of example b at b·dimension·count + d·count + p).
public final class Embedding<S: Scalar> {
    public let vocabulary: Int
    public let dimension: Int
    public let count: Int
    public let table: Parameter<S>
    private var indices: [Int32] = []
    /// The output, kept between passes.
    private var output: [S] = []

    public convenience init(name: String, vocabulary: Int, dimension: Int, count: Int, rng: inout SeededGenerator) {
        self.init(
            table: Parameter(
                name: "\(name).weight", shape: [vocabulary, dimension],
                value: (0..<(vocabulary * dimension)).map { _ in S(Initialization.gaussian(&rng)) }),
            count: count)
    }

    private init(table: Parameter<S>, count: Int) {
        (vocabulary, dimension) = (table.shape[0], table.shape[1])
        self.count = count
        self.table = table
    }

    /// The same table for `count` indices per example: shared (gradients add into it), with
    /// buffers of its own.
    public func resized(count: Int) -> Embedding { Embedding(table: table, count: count) }

    public var parameters: [Parameter<S>] { [table] }
    public var outputSize: Int { count * dimension }

    /// Looks up `indices` ([batch, count], each in 0..<vocabulary; others clamp to the last row).
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ indices: [Int32], batch: Int) -> [S] {
        precondition(indices.count == batch * count, "Embedding: \(indices.count) indices for batch \(batch) × \(count)")
        self.indices = indices
        output.reuse(count: indices.count * dimension)
        let (dimension, count) = (self.dimension, self.count)
        output.withUnsafeMutableBufferPointer { out in
            table.value.withUnsafeBufferPointer { table in
                guard let out = out.baseAddress, let table = table.baseAddress else { return }
                lookups(indices) { row, at in
                    for d in 0..<dimension { out[at + d * count] = table[row + d] }
                }
            }
        }
        return output
    }

    /// Adds dLoss/dOutput into the rows that were looked up.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) {
        precondition(outputGradient.count == indices.count * dimension, "Embedding: gradient does not match the last forward")
        defer { indices = [] }  // the producer's buffer is its own again
        let (dimension, count) = (self.dimension, self.count)
        table.gradient.withUnsafeMutableBufferPointer { gradient in
            outputGradient.withUnsafeBufferPointer { dOut in
                guard let gradient = gradient.baseAddress, let dOut = dOut.baseAddress else { return }
                lookups(indices) { row, at in
                    for d in 0..<dimension { gradient[row + d] += dOut[at + d * count] }
                }
            }
        }
    }

    /// For each index: the offset of its (clamped) row in the table and of its first channel in
    /// the output.
    @inline(__always)
    private func lookups(_ indices: [Int32], _ body: (_ row: Int, _ at: Int) -> Void) {
        let (dimension, count, last) = (self.dimension, self.count, Int32(vocabulary - 1))
        indices.withUnsafeBufferPointer { indices in
            for (i, index) in indices.enumerated() {
                let (b, p) = i.quotientAndRemainder(dividingBy: count)
                body(Int(min(max(index, 0), last)) * dimension, b * count * dimension + p)
            }
        }
    }
}
