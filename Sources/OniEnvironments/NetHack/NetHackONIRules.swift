import CNetHack

/// ONI's versions of the NetHack tasks (facebookresearch/oni, `rl_baseline/tasks_nle.py`), chosen
/// with `rules=oni` in the environment's name: the staircase and oracle tasks pay 50 on success
/// and nothing per frozen step; the staircase is won by the descent message on reaching exactly
/// the target level (`NetHackStaircase-v1`: level 2; `depth=N` for Lvl3/Lvl4), and that message
/// is kept when a `--More--` follows it; `sober` (oracle) also needs the hero not to be
/// hallucinating; `continual` pays the success once and plays on to death or the step limit.
/// The score task pays as NLE's does. Under ONI's rules every task also takes ONI's eat and
/// drink answers ("y" answers with the first letter offered) and leaves drinking questions to
/// the agent, and a descent message is kept across a `--More--`.
public struct NetHackONIRules: Sendable, Equatable {
    public var sober = false
    public var continual = false

    public init(sober: Bool = false, continual: Bool = false) {
        self.sober = sober
        self.continual = continual
    }
    /// The staircase's target level when no depth is given (ONI's `NetHackStaircase-v1`).
    public static let defaultDepth = 2
    /// What a success pays.
    public static let successReward: Float = 50
    static let descent = Array("You descend the stairs.".utf8)
    static let moreConfident = Array("You feel more confident in".utf8)
    static let whatToUse = Array("What do you want to".utf8)
    /// The hallucination bit of blstats' condition mask, compared for equality as ONI does.
    static let hallucinating = 0x200
    /// ONI's staircase success: the descent message on reaching exactly the target level.
    /// (The message is read only on the target level: most steps are decided by the level alone.)
    public static func staircaseWon(dlevel: Int, target: Int, message: @autoclosure () -> String) -> Bool {
        dlevel == target && message().contains("You descend the stairs")
    }

    /// ONI's oracle success: next to the Oracle, and for the sober variant a condition mask other
    /// than hallucination alone (ONI compares the mask for equality).
    public static func oracleWon(nextToOracle: Bool, condition: Int, sober: Bool) -> Bool {
        nextToOracle && (!sober || condition != hallucinating)
    }

    /// What a step shows after a `--More--`: the descent message when it was dismissed, else the
    /// final message.
    public static func shown(dismissed: [String], final: String) -> String {
        dismissed.contains { $0.contains("You descend the stairs.") } && !final.contains("You descend the stairs.") ? "You descend the stairs." : final
    }

    /// Keys ONI's macros send.
    static let castKey: Int32 = 90, firstChoice: Int32 = 97, enhanceKey: Int32 = 229, answerKey: Int32 = 121
}

extension NetHackEnvironment {
    /// Whether `needle` occurs in the first `CNH_MESSAGE_SIZE` bytes of `message` (NUL-terminated).
    static func messageContains(_ message: UnsafeMutablePointer<UInt8>, _ needle: [UInt8]) -> Bool {
        let length = (0..<Int(CNH_MESSAGE_SIZE)).first { message[$0] == 0 } ?? Int(CNH_MESSAGE_SIZE)
        guard length >= needle.count else { return false }
        return (0...(length - needle.count)).contains { start in (0..<needle.count).allSatisfy { message[start + $0] == needle[$0] } }
    }

    /// ONI's eat and quaff macro (`actions=oni`): while the game asks what to eat or drink, the
    /// "y" action answers with the first inventory letter it offers and any other action
    /// dismisses the question; otherwise the action's own key.
    func oniKey(for key: Int32) -> Int32 {
        // The message is made into text only while the game asks something.
        guard Self.messageContains(messageBuffer, NetHackONIRules.whatToUse) else { return key }
        let text = self.message
        guard text.contains("What do you want to eat") || text.contains("What do you want to drink") else { return key }
        guard key == NetHackONIRules.answerKey, let open = text.firstIndex(of: "[") else { return NetHackKey.space }
        let letter = text[text.index(after: open)...].first
        guard let letter, letter.isASCII, letter.isLetter, let value = letter.asciiValue else { return NetHackKey.space }
        return Int32(value)
    }

    /// ONI's staircase and oracle success, by its rules.
    func oniSucceeded(blstats: UnsafeMutablePointer<Int>, nextToOracle: () -> Bool) -> Bool {
        switch task {
        case .staircase:
            return NetHackONIRules.staircaseWon(dlevel: blstats[24], target: targetDepth ?? NetHackONIRules.defaultDepth, message: self.message)
        case .oracle:
            return NetHackONIRules.oracleWon(nextToOracle: nextToOracle(), condition: blstats[25], sober: oniRules?.sober ?? false)
        default:
            return false
        }
    }

    /// Validates the ONI options of a name: which task takes which.
    static func checkONIOptions(task: NetHackTask, rules: NetHackONIRules?, actions: NetHackActionSet, name: String) throws(EnvironmentError) {
        if let rules {
            guard [.score, .staircase, .oracle].contains(task) else {
                throw .invalidOptions(name: name, reason: "rules=oni applies to score, staircase and oracle (ONI has no \(task.rawValue) task)")
            }
            if rules.sober && task != .oracle { throw .invalidOptions(name: name, reason: "sober applies to oracle only") }
            if rules.continual && task == .score { throw .invalidOptions(name: name, reason: "continual applies to staircase and oracle") }
        }
        if actions == .oni && task == .challenge { throw .invalidOptions(name: name, reason: "actions=oni does not apply to challenge") }
    }
}
