import OniNeural
import Testing

/// Each parameter's `gradients` against central differences of `loss` (step 1e-6, tolerance
/// 1e-6 relative beyond 1), at about `samples` elements of each; returns how many it checked.
func checkAgainstFiniteDifferences(_ parameters: [Parameter<Double>], gradients: [[Double]], samples: Int, loss: () -> Double) -> Int {
    let h = 1e-6
    var checked = 0
    for (p, gradient) in zip(parameters, gradients) {
        for j in stride(from: 0, to: p.count, by: max(1, p.count / samples)) {
            p.value[j] += h
            let plus = loss()
            p.value[j] -= 2 * h
            let minus = loss()
            p.value[j] += h
            let numeric = (plus - minus) / (2 * h)
            #expect(abs(numeric - gradient[j]) <= 1e-6 * max(1, abs(numeric)), "\(p.name)[\(j)]: \(gradient[j]) vs \(numeric)")
            checked += 1
        }
    }
    return checked
}
