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

    @Test func conv1d() {
        var rng = SeededGenerator(seed: 11)
        let conv = Conv2d<Double>(name: "c", channels: 3, length: 7, filters: 4, kernel: 3, padding: 1, rng: &rng)
        conv.bias.value = Self.random(4, &rng)
        #expect(conv.weight.shape == [4, 3, 3] && conv.outputSize == 4 * 7)
        Self.check(conv, batch: 2)
    }

    @Test func globalMaxPool() {
        // Random inputs have no ties, so the maximum is differentiable everywhere checked.
        Self.check(GlobalMaxPool<Double>(channels: 3, positions: 5), batch: 2)
        let pool = GlobalMaxPool<Double>(channels: 1, positions: 4)
        #expect(pool.forward([1, 7, 3, 7, -1, -2, -3, -0.5], batch: 2) == [7, -0.5])
        #expect(pool.backward([1, 2]) == [0, 1, 0, 0, 0, 0, 0, 2])
    }

    /// Back-propagation through time, with an episode boundary inside the sequence and a
    /// non-zero initial state, against finite differences of every input and parameter.
    @Test func gruThroughTime() {
        var rng = SeededGenerator(seed: 12)
        let (steps, batch, input, hidden) = (4, 3, 5, 6)
        let gru = GRU<Double>(name: "g", inputSize: input, hiddenSize: hidden, rng: &rng)
        gru.biasIH.value = Self.random(3 * hidden, &rng, scale: 0.5)
        gru.biasHH.value = Self.random(3 * hidden, &rng, scale: 0.5)
        var x = Self.random(steps * batch * input, &rng)
        let initial = Self.random(batch * hidden, &rng, scale: 0.5)
        var resets = [UInt8](repeating: 0, count: steps * batch)
        resets[2 * batch + 1] = 1  // example 1 starts a new episode at step 2
        let r = Self.random(steps * batch * hidden, &rng)
        let loss = { Self.loss(gru.forward(x, initial: initial, resets: resets, steps: steps, batch: batch), r) }
        _ = loss()
        let dx = gru.backward(r, resets: resets)
        let h = 1e-6
        func numeric(_ perturb: (Double) -> Void) -> Double {
            perturb(h)
            let plus = loss()
            perturb(-2 * h)
            let minus = loss()
            perturb(h)
            return (plus - minus) / (2 * h)
        }
        for i in x.indices {
            let n = numeric { x[i] += $0 }
            #expect(abs(dx[i] - n) <= 1e-6 * max(1, abs(n)), "input[\(i)]: \(dx[i]) vs \(n)")
        }
        for p in gru.parameters {
            for j in stride(from: 0, to: p.count, by: 3) {
                let n = numeric { p.value[j] += $0 }
                #expect(abs(p.gradient[j] - n) <= 1e-6 * max(1, abs(n)), "\(p.name)[\(j)]: \(p.gradient[j]) vs \(n)")
            }
        }
    }

    /// One GRU step against the equations written out for a single unit.
    @Test func gruMatchesItsEquations() {
        var rng = SeededGenerator(seed: 13)
        let gru = GRU<Double>(name: "g", inputSize: 1, hiddenSize: 1, rng: &rng)
        gru.weightIH.value = [0.5, -1, 2]
        gru.weightHH.value = [1.5, 0.25, -0.5]
        gru.biasIH.value = [0.1, 0.2, 0.3]
        gru.biasHH.value = [-0.1, 0.05, 0.4]
        let (x, h) = (0.7, -0.3)
        func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        let rGate = sigmoid(0.5 * x + 0.1 + 1.5 * h - 0.1)
        let z = sigmoid(-1 * x + 0.2 + 0.25 * h + 0.05)
        let n = Foundation.tanh(2 * x + 0.3 + rGate * (-0.5 * h + 0.4))
        let expected = (1 - z) * n + z * h
        let y = gru.forward([x], initial: [h], resets: [0], steps: 1, batch: 1)
        #expect(abs(y[0] - expected) < 1e-15)
        // A reset starts from zero whatever the initial state.
        let fresh = gru.forward([x], initial: [0], resets: [0], steps: 1, batch: 1)
        #expect(gru.forward([x], initial: [h], resets: [1], steps: 1, batch: 1) == fresh)
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
        // Channel first: example 0, position 1 looked up row 2; example 1, position 3 row 3.
        for d in 0..<3 {
            #expect(y[d * 4 + 1] == e.table.value[2 * 3 + d])
            #expect(y[12 + d * 4 + 3] == e.table.value[3 * 3 + d])
        }
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
