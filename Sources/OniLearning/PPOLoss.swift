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

    /// mean(max((V − target)², (V_clipped − target)²)) with V_clipped = V_old + clip(V − V_old, ±c):
    /// the value may not profit from moving further than `clip` from the acting policy's value.
    public static func clippedValue(values: [Double], oldValues: [Double], targets: [Double], clip: Double) -> (loss: Double, gradient: [Double]) {
        let n = Double(values.count)
        var loss = 0.0
        var gradient = [Double](repeating: 0, count: values.count)
        for i in values.indices {
            let change = values[i] - oldValues[i]
            let clipped = oldValues[i] + min(max(change, -clip), clip)
            let plain = (values[i] - targets[i]) * (values[i] - targets[i])
            let limited = (clipped - targets[i]) * (clipped - targets[i])
            if plain >= limited {
                loss += plain
                gradient[i] = 2 * (values[i] - targets[i]) / n
            } else {
                loss += limited
                // V_clipped follows V only inside the clip range.
                gradient[i] = abs(change) <= clip ? 2 * (clipped - targets[i]) / n : 0
            }
        }
        return (loss / n, gradient)
    }
}

extension Double {
    fileprivate var exponential: Double { Foundation.exp(self) }
}
