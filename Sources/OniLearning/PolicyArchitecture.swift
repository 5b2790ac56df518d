import OniCore

/// The shape of the policy network; the same value builds the learner's and
/// the workers' copies, and travels (as JSON) with every Params and
/// checkpoint so a worker never loads weights of another network.
public struct PolicyArchitecture: Sendable, Codable, Equatable {
    /// The recurrent core between the encoders and the heads.
    public enum Core: String, Sendable, Codable, CaseIterable {
        /// The core a command line names: `auto` (nil: the environment's choice), `gru` or `none`.
        public static func choice(_ text: String) -> Core?? {
            text == "auto" ? .some(nil) : Core(rawValue: text).map { .some($0) }
        }

        public static let choices = "auto, gru, none"

        /// Feed-forward: each step sees only its own observation.
        case none
        /// A GRU of `hidden` units, trained by back-propagation through each rollout.
        case gru
    }

    /// Map height and width (the "chars" observation).
    public var height: Int
    public var width: Int
    /// Length of the "status" observation (0 if the environment has none).
    public var statusSize: Int
    /// Bytes of the "message" observation (0 if the environment has none).
    public var messageLength = 0
    /// Number of discrete actions.
    public var actions: Int
    /// Character embedding size.
    public var embedding = 8
    /// Filters of each of the two 3×3 convolutions over the map.
    public var filters = 16
    /// Message encoder: byte embedding size and filters of its two 1-D convolutions.
    public var messageEmbedding = 8
    public var messageFilters = 16
    /// Width of the hidden layer after the encoders (and of the recurrent core).
    public var hidden = 256
    public var core = Core.gru
    /// Side of the egocentric window the map encoder sees, centred on the agent; 0 = the whole map.
    public var crop = 0
    /// Indices into the status vector of the agent's column and row (for `crop`).
    public var cropCentre: [Int] = []

    /// The map the convolutions see: the crop, or the whole map.
    public var viewHeight: Int { crop > 0 ? crop : height }
    public var viewWidth: Int { crop > 0 ? crop : width }

    public init(height: Int, width: Int, statusSize: Int, actions: Int, messageLength: Int = 0) {
        self.height = height
        self.width = width
        self.statusSize = statusSize
        self.actions = actions
        self.messageLength = messageLength
    }

    /// Whether every size is in a sane range (architectures also arrive from the network).
    public var isReasonable: Bool {
        let range = 1...4096
        return [height, width, actions, embedding, filters, hidden, messageEmbedding, messageFilters].allSatisfy(range.contains)
            && (0...4096).contains(statusSize) && (0...4096).contains(messageLength)
            && viewHeight * viewWidth * filters <= 1 << 22 && (0...64).contains(crop)
            && (crop == 0 || (cropCentre.count == 2 && cropCentre.allSatisfy { (0..<statusSize).contains($0) }))
    }

    /// Whether this network can act in `other`'s environment (same observation shapes and actions).
    public func fits(_ other: PolicyArchitecture) -> Bool {
        height == other.height && width == other.width && statusSize == other.statusSize && actions == other.actions
            && messageLength == other.messageLength
    }

    /// Size of the recurrent state per environment (0 without a core).
    public var stateSize: Int { core == .gru ? hidden : 0 }

    /// A stable description, e.g. "oni-policy-v2 7x13 s4 m64 a5 e8 f16 me8 mf16 h256 gru".
    public var signature: String {
        "oni-policy-v2 \(height)x\(width) s\(statusSize) m\(messageLength) a\(actions) e\(embedding) f\(filters) "
            + "me\(messageEmbedding) mf\(messageFilters) h\(hidden) \(core.rawValue)" + (crop > 0 ? " crop\(crop)" : "")
    }

    private enum CodingKeys: String, CodingKey {
        case height, width, statusSize, messageLength, actions, embedding, filters, messageEmbedding, messageFilters, hidden, core
        case crop, cropCentre
    }

    /// Reads the JSON of this or an earlier version: fields added later take their old meaning when absent
    /// (no message encoder, no recurrent core).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        height = try c.decode(Int.self, forKey: .height)
        width = try c.decode(Int.self, forKey: .width)
        statusSize = try c.decode(Int.self, forKey: .statusSize)
        actions = try c.decode(Int.self, forKey: .actions)
        embedding = try c.decode(Int.self, forKey: .embedding)
        filters = try c.decode(Int.self, forKey: .filters)
        hidden = try c.decode(Int.self, forKey: .hidden)
        messageLength = try c.decodeIfPresent(Int.self, forKey: .messageLength) ?? 0
        messageEmbedding = try c.decodeIfPresent(Int.self, forKey: .messageEmbedding) ?? messageEmbedding
        messageFilters = try c.decodeIfPresent(Int.self, forKey: .messageFilters) ?? messageFilters
        core = try c.decodeIfPresent(Core.self, forKey: .core) ?? .none
        crop = try c.decodeIfPresent(Int.self, forKey: .crop) ?? 0
        cropCentre = try c.decodeIfPresent([Int].self, forKey: .cropCentre) ?? []
    }
}

extension PolicyArchitecture {
    /// The architecture for an environment with a "chars" map observation (and
    /// optionally a "status" vector and a "message" byte string); nil for
    /// environments without a map. Maps larger than 32×32 cells whose status
    /// says where the agent is (NetHack's 21×79) are seen through a 9×9
    /// egocentric window, with a GRU to remember what left it; a map seen
    /// whole (the grid tasks) gets a feed-forward network, which learns them
    /// as well and runs ~30% faster.
    public init?(environment: any Environment) {
        let fields = environment.observationFields
        guard let chars = fields.first(where: { $0.name == "chars" }), chars.elementType == .uint8, chars.shape.count == 2 else {
            return nil
        }
        let status = fields.first { $0.name == "status" && $0.elementType == .int32 && $0.shape.count == 1 }
        let message = fields.first { $0.name == "message" && $0.elementType == .uint8 && $0.shape.count == 1 }
        self.init(
            height: chars.shape[0], width: chars.shape[1], statusSize: status?.shape[0] ?? 0, actions: environment.actionCount,
            messageLength: message?.shape[0] ?? 0)
        core = .none
        if let position = environment.positionInStatus, height * width > 32 * 32 {
            crop = 9
            cropCentre = [position.x, position.y]
            core = .gru
        }
    }
}

extension PolicyArchitecture {
    /// Floating-point operations of one forward pass of one observation row, counted from the
    /// layers' matrix products (a multiply-add is 2); embeddings, activations and the GRU's
    /// gates are elementwise and left out (under 2% of the total for the default networks).
    /// The message encoder's share is counted over the whole length; the encoder does less
    /// (`PolicyNetwork.forwardFLOPs` counts what it did).
    public var forwardFLOPsPerRow: Int {
        let positions = viewHeight * viewWidth
        var flops = 2 * positions * filters * embedding * 9 + 2 * positions * filters * filters * 9
        flops += messageFLOPs(positions: messageLength)
        let joined = filters * positions + statusSize + (messageLength > 0 ? messageFilters : 0)
        flops += 2 * joined * hidden
        if core == .gru { flops += 2 * 3 * hidden * (hidden + hidden) }
        flops += 2 * hidden * (actions + 1)
        return flops
    }

    /// The message convolutions' operations over `positions` positions (all rows together).
    public func messageFLOPs(positions: Int) -> Int {
        messageLength > 0 ? 2 * positions * messageFilters * (messageEmbedding + messageFilters) * 3 : 0
    }

    /// Operations of an APPO update per trained sample, for rollouts of `steps` steps: forward and
    /// backward (twice the forward: the gradients of inputs and of weights) over T+1 rows each.
    public func trainingFLOPsPerSample(steps: Int) -> Double {
        3 * Double(forwardFLOPsPerRow) * Double(steps + 1) / Double(steps)
    }
}
