import Foundation
import OniNeural
import Testing

/// The vectorised Float ELU against libm's expm1 in Float64.
@Suite struct ELUTests {
    @Test func floatELUMatchesExpm1() {
        let x: [Float] = stride(from: -100.0, through: 5.0, by: 0.0013).map(Float.init) + [0, -0.0, 1e-30, -1e-30, -87, -88, .leastNormalMagnitude]
        var y = [Float](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { Float.elu(xs.baseAddress!, $0.baseAddress!, count: xs.count) } }
        for (v, out) in zip(x, y) {
            let exact = v > 0 ? Double(v) : Foundation.expm1(Double(v))
            // Absolute error near 0 (eˣ − 1 → 0 loses relative precision in Float), relative elsewhere.
            #expect(abs(Double(out) - exact) <= 3e-7 * max(abs(exact), 1), "elu(\(v)) = \(out), expected \(exact)")
        }
    }

    @Test func theActivationLayerUsesIt() {
        let layer = Activation<Float>(.elu, size: 4)
        let y = layer.forward([-1, 0, 2, -20], batch: 1)
        #expect(abs(y[0] - Float(Foundation.expm1(-1.0))) < 1e-6 && y[1] == 0 && y[2] == 2 && abs(y[3] + 1) < 1e-6)
    }
}
