import OniCore

/// The built-in grid tasks: small rooms with NetHack-style messages and
/// sparse extrinsic rewards, fast enough to show learning on two cores.
public enum GridTask: String, CaseIterable, Sendable {
    /// Two rooms joined by a locked door. Find the key, unlock the door,
    /// reach the stairs: reward 1 only then (sparse, three sub-goals).
    case keyroom
    /// Three rooms in a row joined by two locked doors, one key in each of the first two
    /// rooms (a key opens one door), the stairs in the third: reward 1 only at the stairs
    /// (sparse, five sub-goals). Random play almost never finishes it.
    case vault
    /// One room with a staircase: reward 1 on reaching it.
    case stairs
    /// One room with gold piles: reward 0.1 per gold piece picked up;
    /// success when every pile is taken.
    case gold
    /// One room with three rats: reward 1 per rat killed; success when all are dead.
    case rats

    /// Steps before an episode is cut off (no reward, not a success).
    public var stepLimit: Int {
        switch self {
        case .keyroom: 200
        case .vault: 100
        case .stairs: 100
        case .gold: 100
        case .rats: 150
        }
    }

    /// One line on what the task asks of the agent.
    public var summary: String {
        switch self {
        case .keyroom: "find the key, unlock the door, take the stairs (reward only at the stairs)"
        case .vault: "two keys, two locked doors, then the stairs (reward only at the stairs)"
        case .stairs: "reach the staircase (reward 1 there)"
        case .gold: "collect the gold piles (0.1 per piece)"
        case .rats: "kill the rats (1 per kill)"
        }
    }
}

/// The game messages the grid tasks print, in NetHack's wording.
public enum GridMessage {
    public static let wall = "It's a wall."
    public static let findKey = "You find a key."
    public static let doorLocked = "The door is locked."
    public static let unlockDoor = "You unlock the door."
    public static let staircase = "There is a staircase down here."
    public static let killRat = "You kill the rat!"
    public static let missRat = "You miss the rat."
    public static let ratBites = "The rat bites!"
    public static let die = "You die..."
    public static let welcome = "Hello Agent, welcome to the dungeon!"
    public static func gold(_ amount: Int) -> String { "You pick up \(amount) gold piece\(amount == 1 ? "" : "s")." }
}
