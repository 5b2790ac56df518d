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
