/// The NLE 1.3.0 tasks: what is rewarded and when an episode ends.
public enum NetHackTask: String, Sendable, CaseIterable {
    /// In-game score delta.
    case score
    /// 1 for reaching a down staircase (or, with a depth, that dungeon depth).
    case staircase
    /// Staircase with the pet next to the hero.
    case staircasePet = "staircase-pet"
    /// 1 for standing next to the Oracle.
    case oracle
    /// Gold picked up.
    case gold
    /// Nutrition gained.
    case eat
    /// Newly seen map cells per level.
    case scout
    /// Score, the full action set, a random character, no step penalty.
    case challenge

    /// NetHack's options (NLE's NETHACKOPTIONS) with the character.
    var options: String {
        let pickup = self == .gold ? "pickup_types:$" : "pickup_types:$?!/"
        let base = [
            "autopickup", "color", "disclose:+i +a +v +g +c +o", "mention_walls", "nobones", "nocmdassist", "nolegacy",
            "nosparkle", "pickup_burden:unencumbered", pickup, "runmode:teleport", "showexp", "showscore", "time",
        ]
        let character = self == .challenge ? ["name:Agent-@", "race:random", "gender:random", "align:random"] : ["name:Agent-mon-hum-neu-mal"]
        return (base + character).joined(separator: ",")
    }

    var defaultActions: NetHackActionSet { self == .challenge ? .full : .task }
    /// Challenge leaves every prompt and mode to the agent.
    var agentAnswersPrompts: Bool { self == .challenge }
    /// Reward per step in which the game's clock did not move (NLE's "constant" penalty mode).
    var frozenStepPenalty: Float { self == .challenge ? 0 : -0.01 }
    var defaultStepLimit: Int { self == .challenge ? 1_000_000 : 5000 }
}

/// How an NLE step ended (NLE's StepStatus).
enum NetHackStepStatus: Int {
    case aborted = -1, running = 0, death = 1, taskSuccessful = 2
    /// A success that does not end the episode (ONI's continual tasks).
    case continualSuccess = 3
}
