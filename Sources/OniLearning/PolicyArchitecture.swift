/// The shape of the policy network; the same value builds the learner's and
/// the workers' copies, and its `signature` travels with every Params so a
/// worker never loads weights of another network.
public struct PolicyArchitecture: Sendable, Codable, Equatable {
    /// Map height and width (the "chars" observation).
    public var height: Int
    public var width: Int
    /// Length of the "status" observation (0 if the environment has none).
    public var statusSize: Int
    /// Number of discrete actions.
    public var actions: Int
    /// Character embedding size.
    public var embedding = 8
    /// Filters of each of the two 3×3 convolutions.
    public var filters = 16
    /// Width of the hidden layer after the convolutions.
    public var hidden = 256

    public init(height: Int, width: Int, statusSize: Int, actions: Int) {
        self.height = height
        self.width = width
        self.statusSize = statusSize
        self.actions = actions
    }

    /// A stable description, e.g. "grid-conv-v1 7x13 s4 a5 e8 f16 h256".
    public var signature: String {
        "grid-conv-v1 \(height)x\(width) s\(statusSize) a\(actions) e\(embedding) f\(filters) h\(hidden)"
    }
}
