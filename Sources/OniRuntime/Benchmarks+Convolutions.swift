import CBLAS
import Foundation
import OniCore
import OniNeural

extension Benchmarks {
    /// The policy network's convolutions, forward and backward over 512 examples, one thread:
    /// the direct kernel (where the CPU runs it) beside im2col + sgemm, the same layer and inputs.
    public static func convolutions(output: (String) -> Void) {
        openblas_set_num_threads(1)
        let batch = 512
        let layers: [(name: String, channels: Int, height: Int, width: Int)] = [
            ("grid map 7×13, 8 → 16", 8, 7, 13), ("grid map 7×13, 16 → 16", 16, 7, 13),
            ("NetHack crop 9×9, 8 → 16", 8, 9, 9), ("NetHack crop 9×9, 16 → 16", 16, 9, 9),
            ("message 256, 8 → 16", 8, 1, 256), ("message 256, 16 → 16", 16, 1, 256),
        ]
        for layer in layers {
            var times: [Bool: (forward: Double, backward: Double)] = [:]
            var flops = 0.0
            for direct in [true, false] {
                var rng = SeededGenerator(seed: 5)
                let conv: Conv2d<Float> =
                    layer.height == 1
                    ? Conv2d(name: "c", channels: layer.channels, length: layer.width, filters: 16, kernel: 3, padding: 1, activation: .elu, direct: direct, rng: &rng)
                    : Conv2d(
                        name: "c", channels: layer.channels, height: layer.height, width: layer.width, filters: 16, kernel: 3, padding: 1,
                        activation: .elu, direct: direct, rng: &rng)
                if direct && !conv.direct { break }
                let x = (0..<batch * conv.inputSize).map { _ in Float(Initialization.gaussian(&rng)) }
                let dy = (0..<batch * conv.outputSize).map { _ in Float(Initialization.gaussian(&rng)) }
                var forward = Double.infinity, backward = Double.infinity
                for _ in 0..<7 {  // the best of seven, after the first (warm-up)
                    var y: [Float] = []
                    let f = seconds { y = conv.forward(x, batch: batch) }
                    let b = seconds { _ = conv.backward(dy) }
                    precondition(y.count == dy.count)
                    forward = min(forward, f)
                    backward = min(backward, b)
                }
                times[direct] = (forward, backward)
                flops = Double(batch) * 2 * Double(conv.outputSize * conv.channels * conv.kernelHeight * conv.kernelWidth)
            }
            func line(_ label: String, _ t: (forward: Double, backward: Double)) -> String {
                String(format: "%@ forward %6.2f ms (%5.1f GFLOP/s)  backward %6.2f ms", label, t.forward * 1e3, flops / t.forward / 1e9, t.backward * 1e3)
            }
            var text = "conv       " + layer.name.padding(toLength: 26, withPad: " ", startingAt: 0)
            if let d = times[true] { text += line("direct (\(Kernels.instructions)):", d) + "   " }
            if let i = times[false] { text += line("im2col:", i) }
            output(text)
        }
    }
}
