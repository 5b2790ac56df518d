import Foundation
import OniCore
import OniNeural
import Testing

/// Every backward pass against central finite differences, in Float64.
@Suite struct GradientCheckTests {
    /// loss = Σ y ⊙ r for fixed random r, so dLoss/dy = r.
    static func loss(_ y: [Double], _ r: [Double]) -> Double { zip(y, r).reduce(0) { $0 + $1.0 * $1.1 } }

    static func random(_ n: Int, _ rng: inout SeededGenerator, scale: Double = 1) -> [Double] {
        (0..<n).map { _ in Initialization.gaussian(&rng) * scale }
    }

    /// Checks dLoss/dInput and dLoss/dParameters of `layer` at a random point.
    static func check(_ layer: some Layer<Double>, batch: Int, seed: UInt64 = 1, tolerance: Double = 1e-6) {
        var rng = SeededGenerator(seed: seed)
        var x = random(batch * layer.inputSize, &rng)
        let r = random(batch * layer.outputSize, &rng)
        for p in layer.parameters { p.zeroGradient() }
        _ = layer.forward(x, batch: batch)
        let dx = layer.backward(r)
        let analytic = layer.parameters.map(\.gradient)
        let h = 1e-6

        func numeric(_ perturb: (Double) -> Void) -> Double {
            perturb(h)
            let plus = loss(layer.forward(x, batch: batch), r)
            perturb(-2 * h)
            let minus = loss(layer.forward(x, batch: batch), r)
            perturb(h)
            return (plus - minus) / (2 * h)
        }
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= tolerance * max(1, abs(a), abs(b)) }

        for i in stride(from: 0, to: x.count, by: max(1, x.count / 40)) {
            let n = numeric { x[i] += $0 }
            #expect(close(dx[i], n), "input[\(i)]: analytic \(dx[i]) numeric \(n)")
        }
        for (pi, p) in layer.parameters.enumerated() {
            for j in stride(from: 0, to: p.count, by: max(1, p.count / 40)) {
                let n = numeric { p.value[j] += $0 }
                #expect(close(analytic[pi][j], n), "\(p.name)[\(j)]: analytic \(analytic[pi][j]) numeric \(n)")
            }
        }
    }

    @Test func linear() {
        var rng = SeededGenerator(seed: 2)
        Self.check(Linear<Double>(name: "l", inputSize: 7, outputSize: 5, rng: &rng), batch: 4)
    }

    @Test(arguments: [Activation<Double>.Kind.relu, .elu, .tanh])
    func activation(kind: Activation<Double>.Kind) {
        Self.check(Activation<Double>(kind, size: 9), batch: 3)
    }

    @Test func layerNorm() {
        let norm = LayerNorm<Double>(name: "n", size: 6)
        var rng = SeededGenerator(seed: 3)
        norm.gamma.value = Self.random(6, &rng)
        norm.beta.value = Self.random(6, &rng)
        Self.check(norm, batch: 3)
    }

    @Test func conv2dWithPadding() {
        var rng = SeededGenerator(seed: 4)
        let conv = Conv2d<Double>(name: "c", channels: 2, height: 5, width: 4, filters: 3, kernel: 3, padding: 1, rng: &rng)
        conv.bias.value = Self.random(3, &rng)
        Self.check(conv, batch: 2)
    }

    @Test func conv2dWithoutPadding() {
        var rng = SeededGenerator(seed: 5)
        Self.check(Conv2d<Double>(name: "c", channels: 1, height: 4, width: 6, filters: 2, kernel: 2, padding: 0, rng: &rng), batch: 3)
    }

    @Test func sequentialChainsBackward() {
        var rng = SeededGenerator(seed: 6)
        let net = Sequential<Double>([
            Linear(name: "a", inputSize: 5, outputSize: 8, rng: &rng), Activation(.elu, size: 8), LayerNorm(name: "n", size: 8),
            Linear(name: "b", inputSize: 8, outputSize: 3, rng: &rng),
        ])
        Self.check(net, batch: 4)
    }

    @Test func embeddingAccumulatesIntoTheRowsLookedUp() {
        var rng = SeededGenerator(seed: 7)
        let e = Embedding<Double>(name: "e", vocabulary: 5, dimension: 3, count: 4, rng: &rng)
        let indices: [Int32] = [0, 2, 2, 4, 1, 1, 1, 3]
        let y = e.forward(indices, batch: 2)
        #expect(Array(y[3..<6]) == Array(e.table.value[6..<9]))
        let r = Self.random(y.count, &rng)
        e.backward(r)
        let h = 1e-6
        for j in 0..<e.table.count {
            e.table.value[j] += h
            let plus = Self.loss(e.forward(indices, batch: 2), r)
            e.table.value[j] -= 2 * h
            let minus = Self.loss(e.forward(indices, batch: 2), r)
            e.table.value[j] += h
            #expect(abs((plus - minus) / (2 * h) - e.table.gradient[j]) < 1e-6)
        }
    }

    @Test func logSoftmaxAndEntropyGradients() {
        var rng = SeededGenerator(seed: 8)
        let actions = 5
        var logits = Self.random(3 * actions, &rng, scale: 2)
        let r = Self.random(3 * actions, &rng)
        // loss = Σ r ⊙ logsoftmax(z) + Σ entropy(z)
        func loss(_ z: [Double]) -> Double {
            let lp = Categorical.logSoftmax(z, actions: actions)
            return Self.loss(lp, r) + Categorical.entropy(logProbs: lp, actions: actions).reduce(0, +)
        }
        let lp = Categorical.logSoftmax(logits, actions: actions)
        let dlp = zip(r, Categorical.entropyGradient(logProbs: lp)).map { $0 + $1 }
        let analytic = Categorical.logSoftmaxBackward(logProbs: lp, gradient: dlp, actions: actions)
        let h = 1e-6
        for i in logits.indices {
            logits[i] += h
            let plus = loss(logits)
            logits[i] -= 2 * h
            let minus = loss(logits)
            logits[i] += h
            #expect(abs((plus - minus) / (2 * h) - analytic[i]) < 1e-6, "logit \(i)")
        }
        // Rows are distributions.
        for row in 0..<3 {
            let total = (0..<actions).reduce(0.0) { $0 + Foundation.exp(lp[row * actions + $1]) }
            #expect(abs(total - 1) < 1e-12)
        }
    }
}
