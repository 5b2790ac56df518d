import Foundation
import OniNeural
import Testing

/// The vectorisable Float eˣ, σ and tanh the GRU uses, against libm in Float64.
@Suite struct FloatFunctionTests {
    static let inputs: [Float] = stride(from: -30.0, through: 30.0, by: 0.00071).map(Float.init)
        + [0, -0.0, 1e-30, -1e-30, 1e-8, 0.25, -0.25, 0.2499999, 0.2500001, 87, -87, 100, -100, .leastNormalMagnitude]

    @Test func exponentialMatchesExp() {
        for v in stride(from: -87.0, through: 88.0, by: 0.0037).map(Float.init) {
            let exact = Foundation.exp(Double(v)), out = Double(Float.exponential(v))
            #expect(abs(out - exact) <= 3e-7 * exact, "exp(\(v)) = \(out), expected \(exact)")
        }
        #expect(Float.exponential(-200) < 1e-37 && Float.exponential(-200) >= 0)
        #expect(Float.exponential(200).isFinite && Float.exponential(200) > 1e38)
    }

    @Test func tanhMatchesLibm() {
        for v in Self.inputs {
            let exact = Foundation.tanh(Double(v)), out = Double(Float.tanh(v))
            #expect(abs(out - exact) <= 5e-7 * abs(exact) + 1e-45, "tanh(\(v)) = \(out), expected \(exact)")
        }
        #expect(Float.tanh(-0.0).sign == .minus && Float.tanh(0) == 0)
    }

    @Test func sigmoidMatchesLibm() {
        for v in Self.inputs {
            let exact = 1 / (1 + Foundation.exp(-Double(v))), out = Double(Float.sigmoid(v))
            #expect(abs(out - exact) <= 3e-7 * exact + 1e-38, "σ(\(v)) = \(out), expected \(exact)")
        }
    }

    @Test func doubleKeepsLibm() {
        #expect(Double.tanh(0.3) == Foundation.tanh(0.3))
        #expect(Double.sigmoid(0.3) == 1 / (1 + Foundation.exp(-0.3)))
    }
}
