/// Element type of a tensor or observation field.
public enum ElementType: String, Sendable, Hashable, Codable {
    case float32, int32, uint8, int64

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .uint8: 1
        case .float32, .int32: 4
        case .int64: 8
        }
    }
}

/// One named part of an environment's observation, e.g. the character map.
public struct ObservationField: Sendable, Hashable {
    /// Name as it travels in a Rollout, e.g. "chars".
    public var name: String
    /// Element type.
    public var elementType: ElementType
    /// Shape of one environment's observation, outermost first.
    public var shape: [Int]

    public init(name: String, elementType: ElementType, shape: [Int]) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
    }

    /// Bytes of one environment's observation of this field.
    public var byteCount: Int { shape.reduce(1, *) * elementType.byteCount }
}

/// What one environment step produced.
public struct StepOutcome: Sendable, Hashable {
    /// Extrinsic reward of the step.
    public var reward: Float
    /// The episode ended with this step; the next step needs a reset.
    public var done: Bool
    /// The task's goal was reached (meaningful when `done`).
    public var success: Bool
    /// The game message shown after the step; empty when there is none.
    public var message: String
    /// The episode was cut short because its environment failed (`done` is then true too).
    public var truncated: Bool

    public init(reward: Float, done: Bool, success: Bool = false, message: String = "", truncated: Bool = false) {
        self.reward = reward
        self.done = done
        self.success = success
        self.message = message
        self.truncated = truncated
    }
}

/// A game instance that cannot go on (the game library misbehaved, or it was used out of
/// order): the instance is done for; close it and make a new one.
public struct EnvironmentFault: Error, CustomStringConvertible, Sendable, Hashable {
    /// The environment's name, e.g. "nethack:score".
    public var environment: String
    public var reason: String

    public init(environment: String, reason: String) {
        self.environment = environment
        self.reason = reason
    }

    public var description: String { "\(environment) failed: \(reason)" }
}

/// A game the workers play. Implementations are deterministic given the
/// reset seed and the action sequence. An instance is used from one thread.
public protocol Environment: AnyObject {
    /// Name as given on the command line, e.g. "grid:keyroom".
    var name: String { get }
    /// Number of discrete actions; actions are `0..<actionCount`.
    var actionCount: Int { get }
    /// The observation fields this environment fills.
    var observationFields: [ObservationField] { get }
    /// Starts a new episode; returns the opening message (empty if none). A fault leaves the
    /// instance unusable.
    @discardableResult
    func reset(seed: UInt64) throws(EnvironmentFault) -> String
    /// Applies `action` and returns what happened. A fault leaves the instance unusable.
    func step(_ action: Int) throws(EnvironmentFault) -> StepOutcome
    /// Writes field `fieldIndex` of the current observation into `buffer`,
    /// which holds exactly `observationFields[fieldIndex].byteCount` bytes.
    func writeObservation(field fieldIndex: Int, into buffer: UnsafeMutableRawBufferPointer)
    /// A human-readable picture of the current state.
    func render() -> String
    /// Indices into the "status" observation of the agent's map column and row,
    /// if it has them (an egocentric view is centred there); nil by default.
    var positionInStatus: (x: Int, y: Int)? { get }
    /// A short name per action, for people reading episodes (`north`, `kick`, …).
    var actionNames: [String] { get }
    /// Figures of the episode so far that a player would report (NetHack: in-game score, depth
    /// reached, experience level, gold); they keep their last values after the episode ends,
    /// until the next reset. Empty when the game has none beyond return and length.
    var episodeStatistics: [String: Double] { get }
}

extension Environment {
    public var positionInStatus: (x: Int, y: Int)? { nil }
    public var actionNames: [String] { (0..<actionCount).map { "action \($0)" } }
    public var episodeStatistics: [String: Double] { [:] }
}
