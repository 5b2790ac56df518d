import Foundation

/// The losses APPO minimises and their gradients, as means over a batch.
public enum PPOLoss {
    /// −mean(min(r·A, clip(r, 1−ε, 1+ε)·A)) with r = exp(log π − log μ).
    /// Returns the loss and dLoss/d(log π) per element.
    public static func policy(
        logProbs: [Double], behaviourLogProbs: [Double], advantages: [Double], clip epsilon: Double
    ) -> (loss: Double, gradient: [Double]) {
        let n = Double(logProbs.count)
        var loss = 0.0
        var gradient = [Double](repeating: 0, count: logProbs.count)
        for i in logProbs.indices {
            let ratio = (logProbs[i] - behaviourLogProbs[i]).exponential
            let a = advantages[i]
            let unclipped = ratio * a
            let clipped = min(max(ratio, 1 - epsilon), 1 + epsilon) * a
            if unclipped <= clipped {
                loss -= unclipped
                gradient[i] = -a * ratio / n  // d(r·A)/d(log π) = r·A
            } else {
                loss -= clipped  // constant in log π: no gradient
            }
        }
        return (loss / n, gradient)
    }

    /// mean((V − target)²) and dLoss/dV (Sample Factory's value loss before its 0.5 coefficient).
    public static func value(values: [Double], targets: [Double]) -> (loss: Double, gradient: [Double]) {
        let n = Double(values.count)
        var loss = 0.0
        var gradient = [Double](repeating: 0, count: values.count)
        for i in values.indices {
            let d = values[i] - targets[i]
            loss += d * d
            gradient[i] = 2 * d / n
        }
        return (loss / n, gradient)
    }
}

extension Double {
    fileprivate var exponential: Double { Foundation.exp(self) }
}
