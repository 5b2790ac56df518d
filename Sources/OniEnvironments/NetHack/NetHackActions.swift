/// NLE 1.3.0's action sets as the keys NetHack reads; an action index picks a key.
public enum NetHackActionSet: String, Sendable, CaseIterable {
    /// NLE's `TASK_ACTIONS` (23): more, the 8 compass moves, their 8 "run" forms, up, down,
    /// wait, kick, eat, search. The default of every task but Challenge.
    case task
    /// NLE's `USEFUL_ACTIONS` (86, `NetHack-v0`'s default): every command an agent can use;
    /// the extended set ONI's experiments use.
    case extended
    /// NLE's full `ACTIONS` (121), NetHackChallenge's set.
    case full

    public var keys: [Int32] {
        switch self {
        case .task: Self.taskKeys
        case .extended: Self.extendedKeys
        case .full: Self.fullKeys
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
