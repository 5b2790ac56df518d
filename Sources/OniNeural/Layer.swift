/// A differentiable map over a batch of row vectors `[batch, inputSize] → [batch, outputSize]`.
///
/// `forward` keeps what `backward` needs; `backward` takes dLoss/dOutput of
/// that same batch, adds the parameters' gradients to `Parameter.gradient`
/// and returns dLoss/dInput. One forward, then at most one backward.
public protocol Layer<Element>: AnyObject {
    associatedtype Element: Scalar
    var inputSize: Int { get }
    var outputSize: Int { get }
    var parameters: [Parameter<Element>] { get }
    func forward(_ input: [Element], batch: Int) -> [Element]
    func backward(_ outputGradient: [Element]) -> [Element]
}

/// Layers applied one after another.
public final class Sequential<S: Scalar>: Layer {
    public let layers: [any Layer<S>]

    public init(_ layers: [any Layer<S>]) {
        precondition(!layers.isEmpty, "Sequential needs at least one layer")
        for (a, b) in zip(layers, layers.dropFirst()) {
            precondition(a.outputSize == b.inputSize, "layer sizes do not chain: \(a.outputSize) → \(b.inputSize)")
        }
        self.layers = layers
    }

    public var inputSize: Int { layers[0].inputSize }
    public var outputSize: Int { layers[layers.count - 1].outputSize }
    public var parameters: [Parameter<S>] { layers.flatMap { $0.parameters } }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ input: [S], batch: Int) -> [S] {
        layers.reduce(input) { x, layer in layer.forward(x, batch: batch) }
    }

    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S]) -> [S] {
        layers.reversed().reduce(outputGradient) { g, layer in layer.backward(g) }
    }
}
