import OniCore

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

    /// Whether every size is in a sane range (architectures also arrive from the network).
    public var isReasonable: Bool {
        let range = 1...4096
        return [height, width, actions, embedding, filters, hidden].allSatisfy(range.contains) && (0...4096).contains(statusSize)
            && height * width * filters <= 1 << 22
    }

    /// Whether this network can act in `other`'s environment (same observation shapes and actions).
    public func fits(_ other: PolicyArchitecture) -> Bool {
        height == other.height && width == other.width && statusSize == other.statusSize && actions == other.actions
    }

    /// A stable description, e.g. "grid-conv-v1 7x13 s4 a5 e8 f16 h256".
    public var signature: String {
        "grid-conv-v1 \(height)x\(width) s\(statusSize) a\(actions) e\(embedding) f\(filters) h\(hidden)"
    }
}

extension PolicyArchitecture {
    /// The architecture for an environment with a "chars" map observation (and
    /// optionally a "status" vector); nil for environments without a map.
    public init?(environment: any Environment) {
        let fields = environment.observationFields
        guard let chars = fields.first(where: { $0.name == "chars" }), chars.elementType == .uint8, chars.shape.count == 2 else {
            return nil
        }
        let status = fields.first { $0.name == "status" && $0.elementType == .int32 && $0.shape.count == 1 }
        self.init(height: chars.shape[0], width: chars.shape[1], statusSize: status?.shape[0] ?? 0, actions: environment.actionCount)
    }
}
