import Foundation

/// V-trace off-policy targets (Espeholt et al. 2018, λ = 1) for time-major
/// arrays `[T, B]`: T steps of B independent environments.
public enum VTrace {
    /// Targets for the value function and advantages for the policy gradient.
    public struct Output: Sendable, Equatable {
        /// vₛ, [T, B]: the value targets.
        public var values: [Double]
        /// ρₛ (rₛ + γₛ vₛ₊₁ − V(xₛ)), [T, B], with ρ clipped at `policyRhoBar`.
        public var advantages: [Double]
    }

    /// - Parameters:
    ///   - targetLogProbs: log π(aₜ|xₜ) under the policy being learned.
    ///   - behaviourLogProbs: log μ(aₜ|xₜ) under the policy that acted (from the Rollout).
    ///   - rewards: rₜ.
    ///   - discounts: γₜ, 0 where the episode ended at t.
    ///   - values: V(xₜ) under the learner's value function.
    ///   - bootstrap: V(x_T), [B].
    ///   - rhoBar, cBar: truncation of the importance weights (1 and 1 in IMPALA and APPO).
    ///   - policyRhoBar: truncation of ρ in the advantages.
    public static func compute(
        targetLogProbs: [Double], behaviourLogProbs: [Double], rewards: [Double], discounts: [Double], values: [Double],
        bootstrap: [Double], steps: Int, envs: Int, rhoBar: Double = 1, cBar: Double = 1, policyRhoBar: Double = 1
    ) -> Output {
        let n = steps * envs
        precondition(
            [targetLogProbs.count, behaviourLogProbs.count, rewards.count, discounts.count, values.count].allSatisfy { $0 == n }
                && bootstrap.count == envs, "V-trace inputs must be [T, B] and bootstrap [B]")
        var vs = [Double](repeating: 0, count: n)
        var advantages = [Double](repeating: 0, count: n)
        for b in 0..<envs {
            var nextValue = bootstrap[b]  // V(xₜ₊₁)
            var nextTarget = bootstrap[b]  // vₜ₊₁
            var accumulated = 0.0  // vₜ₊₁ − V(xₜ₊₁)
            for t in stride(from: steps - 1, through: 0, by: -1) {
                let k = t * envs + b
                let ratio = Foundation.exp(targetLogProbs[k] - behaviourLogProbs[k])
                let rho = min(rhoBar, ratio)
                let c = min(cBar, ratio)
                let delta = rho * (rewards[k] + discounts[k] * nextValue - values[k])
                accumulated = delta + discounts[k] * c * accumulated
                vs[k] = values[k] + accumulated
                advantages[k] = min(policyRhoBar, ratio) * (rewards[k] + discounts[k] * nextTarget - values[k])
                nextValue = values[k]
                nextTarget = vs[k]
            }
        }
        return Output(values: vs, advantages: advantages)
    }
}
