import Foundation
import OniCore
import OniNeural
import Testing

/// `BlockLinear` against finite differences and against a `Linear` over the joined input.
@Suite struct BlockLinearTests {
    /// The layer seen as one over the joined input: the input split into blocks, the blocks'
    /// gradients joined back (so `GradientCheckTests.check` can perturb every input).
    final class Joined: Layer {
        let blocks: BlockLinear<Double>
        init(_ blocks: BlockLinear<Double>) { self.blocks = blocks }
        var inputSize: Int { blocks.inputSize }
        var outputSize: Int { blocks.outputSize }
        var parameters: [Parameter<Double>] { blocks.parameters }
        func forward(_ input: [Double], batch: Int) -> [Double] {
            blocks.forward(Self.split(input, widths: blocks.widths, batch: batch), batch: batch)
        }
        func backward(_ outputGradient: [Double]) -> [Double] {
            let parts = blocks.backward(outputGradient)
            let batch = outputGradient.count / blocks.outputSize
            return (0..<batch).flatMap { row in
                zip(parts, blocks.widths).flatMap { part, width in part[(row * width)..<((row + 1) * width)] }
            }
        }
        static func split(_ joined: [Double], widths: [Int], batch: Int) -> [[Double]] {
            let total = widths.reduce(0, +)
            var offset = 0
            return widths.map { width in
                defer { offset += width }
                return (0..<batch).flatMap { row in joined[(row * total + offset)..<(row * total + offset + width)] }
            }
        }
    }

    @Test func gradientsMatchFiniteDifferences() {
        var rng = SeededGenerator(seed: 21)
        let layer = BlockLinear<Double>(name: "b", widths: [5, 0, 3], outputSize: 4, rng: &rng)
        layer.bias.value = GradientCheckTests.random(4, &rng)
        GradientCheckTests.check(Joined(layer), batch: 3)
    }

    @Test func computesWhatLinearComputesOnTheJoinedInput() {
        let widths = [6, 0, 2], batch = 5, out = 3
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7), rng = SeededGenerator(seed: 8)
        let blocks = BlockLinear<Double>(name: "t", widths: widths, constant: [2], outputSize: out, rng: &a)
        let linear = Linear<Double>(name: "t", inputSize: 8, outputSize: out, rng: &b)
        #expect(blocks.weight.value == linear.weight.value && blocks.weight.shape == linear.weight.shape)
        let bias = GradientCheckTests.random(out, &rng)
        blocks.bias.value = bias
        linear.bias.value = bias
        let x = GradientCheckTests.random(batch * 8, &rng), dy = GradientCheckTests.random(batch * out, &rng)
        for _ in 0..<2 {  // twice: kept buffers give the same answers
            let y = blocks.forward(Joined.split(x, widths: widths, batch: batch), batch: batch)
            let expected = linear.forward(x, batch: batch)
            #expect(zip(y, expected).allSatisfy { abs($0 - $1) < 1e-12 })
            let dx = blocks.backward(dy), dJoined = linear.backward(dy)
            #expect(dx[1].isEmpty && dx[2].isEmpty, "zero-width and constant blocks get no gradient")
            let dFirst = Joined.split(dJoined, widths: widths, batch: batch)[0]
            #expect(zip(dx[0], dFirst).allSatisfy { abs($0 - $1) < 1e-12 })
            #expect(zip(blocks.weight.gradient, linear.weight.gradient).allSatisfy { abs($0 - $1) < 1e-12 })
            #expect(zip(blocks.bias.gradient, linear.bias.gradient).allSatisfy { abs($0 - $1) < 1e-12 })
        }
    }
}
