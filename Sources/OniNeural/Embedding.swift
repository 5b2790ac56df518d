import OniCore

/// A lookup table [vocabulary, dimension]: each index becomes its row.
/// Input: `count` indices per example; output: [batch, count, dimension], or with
/// `channelsFirst` [batch, dimension, count] (a convolution's input, written in that order
/// directly rather than reordered in a pass of its own).
public final class Embedding<S: Scalar> {
    public let vocabulary: Int
    public let dimension: Int
    public let count: Int
    public let channelsFirst: Bool
    public let table: Parameter<S>
    private var indices: [Int32] = []
    /// The output, kept between passes.
    private var output: [S] = []

    public init(name: String, vocabulary: Int, dimension: Int, count: Int, channelsFirst: Bool = false, rng: inout SeededGenerator) {
        self.vocabulary = vocabulary
        self.dimension = dimension
        self.count = count
        self.channelsFirst = channelsFirst
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
        let dimension = self.dimension, count = self.count, last = Int32(vocabulary - 1)
        // Element (position p, channel d) of example b is at b·count·dimension + p·dimension + d,
        // or channel first at b·count·dimension + d·count + p.
        let (positionStride, channelStride) = channelsFirst ? (1, count) : (dimension, 1)
        output.withUnsafeMutableBufferPointer { out in
            table.value.withUnsafeBufferPointer { table in
                indices.withUnsafeBufferPointer { indices in
                    guard let out = out.baseAddress, let table = table.baseAddress else { return }
                    for b in 0..<batch {
                        let example = out + b * count * dimension
                        for p in 0..<count {
                            let row = table + Int(min(max(indices[b * count + p], 0), last)) * dimension
                            let target = example + p * positionStride
                            for d in 0..<dimension { target[d * channelStride] = row[d] }
                        }
                    }
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
        let dimension = self.dimension, count = self.count, last = Int32(vocabulary - 1), batch = indices.count / max(count, 1)
        let (positionStride, channelStride) = channelsFirst ? (1, count) : (dimension, 1)
        table.gradient.withUnsafeMutableBufferPointer { gradient in
            outputGradient.withUnsafeBufferPointer { dOut in
                indices.withUnsafeBufferPointer { indices in
                    guard let gradient = gradient.baseAddress, let dOut = dOut.baseAddress else { return }
                    for b in 0..<batch {
                        let example = dOut + b * count * dimension
                        for p in 0..<count {
                            let row = gradient + Int(min(max(indices[b * count + p], 0), last)) * dimension
                            let source = example + p * positionStride
                            for d in 0..<dimension { row[d] += source[d * channelStride] }
                        }
                    }
                }
            }
        }
    }
}
