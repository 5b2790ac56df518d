/// The largest value of each channel over all positions:
/// [batch, channels, positions] → [batch, channels]. The gradient goes to the
/// position that held the maximum (the first one, on ties).
public final class GlobalMaxPool<S: Scalar>: Layer {
    public let channels: Int
    public let positions: Int
    public var inputSize: Int { channels * positions }
    public var outputSize: Int { channels }
    public var parameters: [Parameter<S>] { [] }
    private var winners: [Int] = []
    private var batch = 0

    public init(channels: Int, positions: Int) {
        precondition(positions > 0, "GlobalMaxPool: no positions")
        self.channels = channels
        self.positions = positions
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ input: [S], batch: Int) -> [S] {
        precondition(input.count == batch * inputSize, "GlobalMaxPool: input size mismatch")
        self.batch = batch
        winners = [Int](repeating: 0, count: batch * channels)
        var output = [S](repeating: 0, count: batch * channels)
        for row in 0..<(batch * channels) {
            let base = row * positions
            var best = base
            for i in (base + 1)..<(base + positions) where input[i] > input[best] { best = i }
            winners[row] = best
            output[row] = input[best]
        }
        return output
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) -> [S] {
        precondition(outputGradient.count == batch * channels, "GlobalMaxPool: gradient does not match the last forward")
        var inputGradient = [S](repeating: 0, count: batch * inputSize)
        for (row, winner) in winners.enumerated() { inputGradient[winner] += outputGradient[row] }
        return inputGradient
    }
}
