/// Normalises each row to zero mean and unit variance, then scales and shifts: y = γ·x̂ + β.
public final class LayerNorm<S: Scalar>: Layer {
    public let inputSize: Int
    public var outputSize: Int { inputSize }
    public let gamma: Parameter<S>
    public let beta: Parameter<S>
    public let epsilon: S
    private var normalized: [S] = []
    private var inverseStd: [S] = []
    private var batch = 0

    public init(name: String, size: Int, epsilon: S = 1e-5) {
        inputSize = size
        self.epsilon = epsilon
        gamma = Parameter(name: "\(name).weight", shape: [size], value: [S](repeating: 1, count: size))
        beta = Parameter(name: "\(name).bias", shape: [size], value: [S](repeating: 0, count: size))
    }

    public var parameters: [Parameter<S>] { [gamma, beta] }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ input: [S], batch: Int) -> [S] {
        precondition(input.count == batch * inputSize, "LayerNorm: input size mismatch")
        self.batch = batch
        let n = inputSize
        normalized = [S](repeating: 0, count: input.count)
        inverseStd = [S](repeating: 0, count: batch)
        var output = [S](repeating: 0, count: input.count)
        for row in 0..<batch {
            let base = row * n
            var mean: S = 0
            for j in 0..<n { mean += input[base + j] }
            mean /= S(n)
            var variance: S = 0
            for j in 0..<n {
                let d = input[base + j] - mean
                variance += d * d
            }
            variance /= S(n)
            let inv = 1 / (variance + epsilon).squareRoot()
            inverseStd[row] = inv
            for j in 0..<n {
                let xhat = (input[base + j] - mean) * inv
                normalized[base + j] = xhat
                output[base + j] = gamma.value[j] * xhat + beta.value[j]
            }
        }
        return output
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) -> [S] {
        let n = inputSize
        var inputGradient = [S](repeating: 0, count: outputGradient.count)
        for row in 0..<batch {
            let base = row * n
            // dx̂ = dy·γ;  dx = inv/n · (n·dx̂ − Σdx̂ − x̂·Σ(dx̂·x̂))
            var sum: S = 0
            var dot: S = 0
            for j in 0..<n {
                let dy = outputGradient[base + j]
                gamma.gradient[j] += dy * normalized[base + j]
                beta.gradient[j] += dy
                let dxhat = dy * gamma.value[j]
                sum += dxhat
                dot += dxhat * normalized[base + j]
            }
            let scale = inverseStd[row] / S(n)
            for j in 0..<n {
                let dxhat = outputGradient[base + j] * gamma.value[j]
                inputGradient[base + j] = scale * (S(n) * dxhat - sum - normalized[base + j] * dot)
            }
        }
        return inputGradient
    }
}
