/// Reorders each example from [positions, channels] to [channels, positions]
/// (an embedding's output into a convolution's input).
public final class ChannelsFirst<S: Scalar>: Layer {
    public let positions: Int
    public let channels: Int
    public var inputSize: Int { positions * channels }
    public var outputSize: Int { positions * channels }
    public var parameters: [Parameter<S>] { [] }
    private var batch = 0
    /// Both directions' results, kept between passes.
    private var output: [S] = []
    private var inputGradient: [S] = []

    public init(positions: Int, channels: Int) {
        self.positions = positions
        self.channels = channels
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ input: [S], batch: Int) -> [S] {
        self.batch = batch
        Self.permute(input, into: &output, batch: batch, rows: positions, columns: channels)
        return output
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) -> [S] {
        Self.permute(outputGradient, into: &inputGradient, batch: batch, rows: channels, columns: positions)
        return inputGradient
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    static func permute(_ x: [S], into out: inout [S], batch: Int, rows: Int, columns: Int) {
        out.reuse(count: x.count)
        let size = rows * columns
        out.withUnsafeMutableBufferPointer { out in
            x.withUnsafeBufferPointer { x in
                for b in 0..<batch {
                    for r in 0..<rows {
                        for c in 0..<columns { out[b * size + c * rows + r] = x[b * size + r * columns + c] }
                    }
                }
            }
        }
    }
}
