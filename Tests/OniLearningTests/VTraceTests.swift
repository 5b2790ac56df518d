import Foundation
import OniCore
import OniLearning
import OniNeural
import Testing

/// V-trace against the definition written out as a plain double loop, and the
/// PPO losses against hand-computed cases.
@Suite struct VTraceTests {
    /// vₛ = V(xₛ) + Σ_{t=s}^{T−1} (Π_{i=s}^{t−1} γᵢ cᵢ) δₜ, δₜ = ρₜ (rₜ + γₜ V(xₜ₊₁) − V(xₜ)).
    static func reference(
        target: [Double], behaviour: [Double], rewards: [Double], discounts: [Double], values: [Double], bootstrap: [Double],
        steps: Int, envs: Int, rhoBar: Double, cBar: Double
    ) -> [Double] {
        var vs = [Double](repeating: 0, count: steps * envs)
        for b in 0..<envs {
            func v(_ t: Int) -> Double { t == steps ? bootstrap[b] : values[t * envs + b] }
            for s in 0..<steps {
                var total = values[s * envs + b]
                for t in s..<steps {
                    var product = 1.0
                    for i in s..<t {
                        let k = i * envs + b
                        product *= discounts[k] * min(cBar, exp(target[k] - behaviour[k]))
                    }
                    let k = t * envs + b
                    let rho = min(rhoBar, exp(target[k] - behaviour[k]))
                    total += product * rho * (rewards[k] + discounts[k] * v(t + 1) - v(t))
                }
                vs[s * envs + b] = total
            }
        }
        return vs
    }

    @Test(arguments: [(1.0, 1.0), (0.8, 0.5), (2.0, 1.5)])
    func matchesThePlainLoop(rhoBar: Double, cBar: Double) {
        var rng = SeededGenerator(seed: 21)
        let steps = 9, envs = 4, n = steps * envs
        let target = (0..<n).map { _ in -Double(rng.below(300)) / 100 }
        let behaviour = (0..<n).map { _ in -Double(rng.below(300)) / 100 }
        let rewards = (0..<n).map { _ in Initialization.gaussian(&rng) }
        let discounts = (0..<n).map { _ in rng.below(6) == 0 ? 0.0 : 0.97 }  // some episode ends
        let values = (0..<n).map { _ in Initialization.gaussian(&rng) }
        let bootstrap = (0..<envs).map { _ in Initialization.gaussian(&rng) }
        let out = VTrace.compute(
            targetLogProbs: target, behaviourLogProbs: behaviour, rewards: rewards, discounts: discounts, values: values,
            bootstrap: bootstrap, steps: steps, envs: envs, rhoBar: rhoBar, cBar: cBar, policyRhoBar: rhoBar)
        let expected = Self.reference(
            target: target, behaviour: behaviour, rewards: rewards, discounts: discounts, values: values, bootstrap: bootstrap,
            steps: steps, envs: envs, rhoBar: rhoBar, cBar: cBar)
        for i in 0..<n { #expect(abs(out.values[i] - expected[i]) < 1e-9, "v[\(i)]") }
        // Advantages: ρₜ (rₜ + γₜ vₜ₊₁ − V(xₜ)).
        for b in 0..<envs {
            for t in 0..<steps {
                let k = t * envs + b
                let next = t == steps - 1 ? bootstrap[b] : expected[(t + 1) * envs + b]
                let rho = min(rhoBar, exp(target[k] - behaviour[k]))
                #expect(abs(out.advantages[k] - rho * (rewards[k] + discounts[k] * next - values[k])) < 1e-9)
            }
        }
    }

    @Test func onPolicyWithoutTruncationIsTheDiscountedReturn() {
        // π = μ, ρ = c = 1: vₛ is the n-step bootstrapped return.
        let rewards = [1.0, 0, 2], discounts = [0.9, 0.9, 0.9], values = [0.5, -1, 3.0]
        let out = VTrace.compute(
            targetLogProbs: [0, 0, 0], behaviourLogProbs: [0, 0, 0], rewards: rewards, discounts: discounts, values: values,
            bootstrap: [10], steps: 3, envs: 1)
        let g2 = 2 + 0.9 * 10.0
        let g1 = 0 + 0.9 * g2
        let g0 = 1 + 0.9 * g1
        #expect(abs(out.values[0] - g0) < 1e-12 && abs(out.values[1] - g1) < 1e-12 && abs(out.values[2] - g2) < 1e-12)
    }
}

@Suite struct PPOLossTests {
    @Test func handComputedClippedObjective() {
        // ratios e^0.5 ≈ 1.6487 (clipped at 1.2 for A > 0), e^−0.5 ≈ 0.6065 (clipped at 0.8 for A < 0 → min picks clipped),
        // and 1 (inside the range).
        let logProbs = [0.5, -0.5, 0.0], behaviour = [0.0, 0.0, 0.0], advantages = [2.0, -1.0, 3.0]
        let (loss, gradient) = PPOLoss.policy(logProbs: logProbs, behaviourLogProbs: behaviour, advantages: advantages, clip: 0.2)
        // terms: min(1.6487·2, 1.2·2) = 2.4 (clipped); min(0.6065·−1, 0.8·−1) = −0.8 (clipped); min(3, 3) = 3.
        #expect(abs(loss - (-(2.4 - 0.8 + 3) / 3)) < 1e-12)
        #expect(gradient[0] == 0 && gradient[1] == 0)
        #expect(abs(gradient[2] - (-3.0 / 3)) < 1e-12)
    }

    @Test func policyGradientMatchesFiniteDifferencesWhereDifferentiable() {
        let logProbs = [-0.1, -1.3, -0.7, -2.0], behaviour = [-0.2, -1.0, -0.7, -2.1], advantages = [1.5, -0.5, 0.2, -2.0]
        let (_, gradient) = PPOLoss.policy(logProbs: logProbs, behaviourLogProbs: behaviour, advantages: advantages, clip: 0.2)
        let h = 1e-7
        for i in logProbs.indices {
            var plus = logProbs, minus = logProbs
            plus[i] += h
            minus[i] -= h
            let numeric = (PPOLoss.policy(logProbs: plus, behaviourLogProbs: behaviour, advantages: advantages, clip: 0.2).loss
                - PPOLoss.policy(logProbs: minus, behaviourLogProbs: behaviour, advantages: advantages, clip: 0.2).loss) / (2 * h)
            #expect(abs(numeric - gradient[i]) < 1e-6)
        }
    }

    @Test func valueLoss() {
        let (loss, gradient) = PPOLoss.value(values: [1, 2], targets: [0, 4])
        #expect(loss == 2.5)
        #expect(gradient == [1, -2])
    }

    /// By hand, clip 0.5: (a) moved 1 from V_old = 0 toward a target of 2: clipped term (0.5−2)² = 2.25 > 1, no gradient;
    /// (b) moved 0.25, inside the clip: both terms (0.25−1)², gradient 2·(−0.75)/3; (c) moved away from the target:
    /// the unclipped term (−1−0)² = 1 is the larger, gradient 2·(−1)/3.
    @Test func clippedValueLoss() {
        let (loss, gradient) = PPOLoss.clippedValue(values: [1, 0.25, -1], oldValues: [0, 0, 0], targets: [2, 1, 0], clip: 0.5)
        #expect(abs(loss - (2.25 + 0.5625 + 1) / 3) < 1e-12)
        #expect(gradient[0] == 0)
        #expect(abs(gradient[1] - 2 * -0.75 / 3) < 1e-12)
        #expect(abs(gradient[2] - 2 * -1.0 / 3) < 1e-12)
        // With a clip that never binds it is the plain loss.
        let plain = PPOLoss.value(values: [1, 0.25, -1], targets: [2, 1, 0])
        let wide = PPOLoss.clippedValue(values: [1, 0.25, -1], oldValues: [0, 0, 0], targets: [2, 1, 0], clip: 100)
        #expect(abs(plain.loss - wide.loss) < 1e-12 && plain.gradient == wide.gradient)
    }
}
