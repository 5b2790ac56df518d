/// A trainable tensor: its value and the gradient accumulated by backward passes.
public final class Parameter<S: Scalar> {
    /// Dotted name, e.g. "core.linear0.weight"; names key checkpoints and Params messages.
    public let name: String
    /// Shape, outermost first.
    public let shape: [Int]
    public var value: [S]
    public var gradient: [S]

    public init(name: String, shape: [Int], value: [S]) {
        precondition(value.count == shape.reduce(1, *), "parameter \(name): \(value.count) values for shape \(shape)")
        self.name = name
        self.shape = shape
        self.value = value
        gradient = [S](repeating: 0, count: value.count)
    }

    public var count: Int { value.count }

    public func zeroGradient() {
        for i in gradient.indices { gradient[i] = 0 }
    }
}

/// Something with parameters.
public protocol ParameterHolder {
    associatedtype Element: Scalar
    var parameters: [Parameter<Element>] { get }
}
