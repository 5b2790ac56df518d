/// NLE 1.3.0's action sets as the keys NetHack reads; an action index picks a key.
public enum NetHackActionSet: String, Sendable, CaseIterable {
    /// NLE's `TASK_ACTIONS` (23): more, the 8 compass moves, their 8 "run" forms, up, down,
    /// wait, kick, eat, search. The default of every task but Challenge.
    case task
    /// NLE's `USEFUL_ACTIONS` (86, `NetHack-v0`'s default): every command an agent can use.
    case extended
    /// NLE's full `ACTIONS` (121), NetHackChallenge's set.
    case full
    /// ONI's `ExtendedActions` set (28): the task set plus cast, quaff, pray, pick up and pay,
    /// with ONI's macros — "y" answers an eat or drink question with the first letter offered,
    /// cast picks the first spell, and a skill is enhanced as soon as the game allows it.
    case oni

    public var keys: [Int32] {
        switch self {
        case .task: Self.taskKeys
        case .extended: Self.extendedKeys
        case .full: Self.fullKeys
        case .oni: Self.taskKeys + [90, 113, 240, 44, 112]
        }
    }

    private static let taskKeys: [Int32] = [13, 107, 108, 106, 104, 117, 110, 98, 121, 75, 76, 74, 72, 85, 78, 66, 89, 60, 62, 46, 4, 101, 115]

    private static let extendedKeys: [Int32] = [
        107, 108, 106, 104, 117, 110, 98, 121, 75, 76, 74, 72, 85, 78, 66, 89, 60, 62, 46, 13, 225, 97, 24, 67, 90, 227, 99, 228,
        100, 68, 101, 69, 229, 27, 70, 102, 230, 105, 73, 233, 234, 4, 58, 236, 237, 109, 77, 239, 111, 112, 44, 240, 80, 113, 81,
        114, 82, 210, 242, 103, 71, 115, 91, 61, 40, 94, 41, 33, 243, 120, 84, 65, 116, 212, 244, 88, 245, 118, 87, 119, 247, 122,
        43, 34, 36, 32,
    ]

    private static let fullKeys: [Int32] = [
        107, 108, 106, 104, 117, 110, 98, 121, 75, 76, 74, 72, 85, 78, 66, 89, 60, 62, 46, 13, 35, 191, 225, 193, 97, 24, 64, 67,
        90, 227, 99, 195, 228, 100, 68, 101, 69, 229, 27, 70, 102, 230, 59, 86, 105, 73, 233, 234, 4, 92, 96, 58, 236, 237, 109,
        77, 239, 111, 79, 15, 112, 44, 240, 80, 113, 241, 81, 114, 18, 82, 210, 242, 103, 71, 83, 115, 42, 34, 91, 36, 61, 43, 40,
        94, 41, 33, 243, 120, 84, 65, 20, 116, 212, 95, 244, 88, 245, 246, 118, 87, 38, 47, 119, 247, 122, 43, 45, 32, 39, 34, 48,
        49, 50, 51, 52, 53, 54, 55, 56, 57, 36,
    ]
}

/// Keys the environment itself sends.
enum NetHackKey {
    static let space: Int32 = 32
    static let escape: Int32 = 27
    static let quit: Int32 = 241  // M-q
    static let yes: Int32 = 121
}

/// Names of the keys the action sets send, as NLE names its actions (lower case).
enum NetHackKeyNames {
    static func name(_ key: Int32) -> String {
        if let name = names[key] { return name }
        if (1...26).contains(key) { return "^" + String(UnicodeScalar(UInt8(key + 96))) }
        if key >= 128, let scalar = UnicodeScalar(UInt32(key - 128)) { return "M-\(Character(scalar))" }
        if let scalar = UnicodeScalar(UInt32(key)), key >= 32 { return "key \(Character(scalar))" }
        return "key \(key)"
    }

    private static let names: [Int32: String] = [
        107: "north", 108: "east", 106: "south", 104: "west", 117: "north-east", 110: "south-east", 98: "south-west", 121: "north-west",
        75: "far north", 76: "far east", 74: "far south", 72: "far west", 85: "far north-east", 78: "far south-east",
        66: "far south-west", 89: "far north-west", 60: "up", 62: "down", 46: "wait", 13: "more", 4: "kick", 101: "eat",
        115: "search", 27: "escape", 32: "space", 44: "pickup", 58: "look", 59: "glance", 63: "help", 64: "autopickup",
        35: "extended command", 97: "apply", 99: "close", 100: "drop", 68: "drop many", 69: "engrave", 70: "fight",
        102: "fire", 105: "inventory", 73: "inventory type", 111: "open", 112: "pay", 80: "put on", 113: "quaff",
        81: "quiver", 114: "read", 82: "remove", 116: "throw", 84: "take off", 65: "take off all", 118: "version",
        119: "wield", 87: "wear", 120: "swap", 122: "zap", 90: "cast", 43: "spells", 36: "gold", 34: "amulet",
        91: "armor", 61: "ring", 40: "tools", 41: "weapon", 94: "trap id", 33: "shell", 103: "rush", 71: "run",
        45: "minus", 39: "quote", 241: "quit", 225: "adjust", 227: "chat", 228: "dip", 229: "enhance",
        230: "force", 233: "invoke", 234: "jump", 236: "loot", 237: "monster", 239: "offer", 240: "pray", 242: "ride",
        243: "sit", 244: "turn", 245: "untrap", 247: "wipe", 210: "redraw", 212: "teleport", 24: "attributes",
        67: "call", 77: "move", 109: "move no pickup", 88: "two weapon", 38: "what does", 47: "what is",
        42: "seeall", 95: "travel", 96: "prev msg", 92: "known", 86: "history", 79: "options", 83: "save",
    ]
}
