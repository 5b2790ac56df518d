import OniNeural

/// Layers applied one after another, to check that backward passes chain.
/// (The product's network calls its concrete layers directly: through `any Layer`
/// the generic code would run unspecialised.)
final class Sequential<S: Scalar>: Layer {
    let layers: [any Layer<S>]

    init(_ layers: [any Layer<S>]) {
        precondition(!layers.isEmpty, "Sequential needs at least one layer")
        for (a, b) in zip(layers, layers.dropFirst()) {
            precondition(a.outputSize == b.inputSize, "layer sizes do not chain: \(a.outputSize) → \(b.inputSize)")
        }
        self.layers = layers
    }

    var inputSize: Int { layers[0].inputSize }
    var outputSize: Int { layers[layers.count - 1].outputSize }
    var parameters: [Parameter<S>] { layers.flatMap { $0.parameters } }

    func forward(_ input: [S], batch: Int) -> [S] {
        layers.reduce(input) { x, layer in layer.forward(x, batch: batch) }
    }

    func backward(_ outputGradient: [S]) -> [S] {
        layers.reversed().reduce(outputGradient) { g, layer in layer.backward(g) }
    }
}
