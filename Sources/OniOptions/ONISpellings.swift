import ArgumentParser

/// ONI's command line (facebookresearch/oni's `scripts/main.py`, on Sample Factory) in Oni's
/// words, where the two mean the same: `--llm_reward_type online_cls` is `--reward retrieval`,
/// `--root_env NetHackScore-v0` is `--env nethack:score`, `--train_dir D --experiment E` is
/// `--run-dir D/E`. An ONI option or value Oni has no equal for is refused, naming what comes
/// closest, rather than silently read as something else. Runs on the arguments after
/// `OptionAliases`, which renames ONI's options whose values mean the same (`--gamma` is
/// `--discount`, …) and writes snake_case as kebab-case.
public enum ONISpellings {
    /// `--llm_reward_type` values → `--reward`.
    static let rewardTypes = ["online_cls": "retrieval", "online_cls_reward_model": "classification", "online_motif": "ranking", "cosine-bow": "cosine", "none": "none"]
    /// `--goal_key` values → `--goal`.
    static let goals = ["defaultgoal": "default", "combat": "combat", "gold": "gold", "stairs": "stairs", "zeroknowledge": "zeroknowledge"]
    /// NLE's task ids (as `--root_env` takes them) → Oni's environment names.
    static let environments = [
        "NetHackScore-v0": "nethack:score", "NetHackStaircase-v0": "nethack:staircase", "NetHackStaircasePet-v0": "nethack:staircase-pet",
        "NetHackOracle-v0": "nethack:oracle", "NetHackGold-v0": "nethack:gold", "NetHackEat-v0": "nethack:eat", "NetHackScout-v0": "nethack:scout",
        "NetHackChallenge-v0": "nethack:challenge",
        // ONI's own tasks (rl_baseline/tasks_nle.py): its rules, and with ExtendedActions its 28 actions with macros.
        "NetHackScore-v1": "nethack:score,rules=oni,actions=task", "NetHackScoreExtendedActions-v1": "nethack:score,rules=oni,actions=oni",
        "NetHackStaircase-v1": "nethack:staircase,rules=oni,actions=task", "NetHackStaircaseExtendedActions-v1": "nethack:staircase,rules=oni,actions=oni",
        "NetHackStaircaseLvl3-v1": "nethack:staircase,depth=3,rules=oni,actions=task",
        "NetHackStaircaseLvl3ExtendedActions-v1": "nethack:staircase,depth=3,rules=oni,actions=oni",
        "NetHackStaircaseLvl4-v1": "nethack:staircase,depth=4,rules=oni,actions=task",
        "NetHackStaircaseLvl4ExtendedActions-v1": "nethack:staircase,depth=4,rules=oni,actions=oni",
        "NetHackStaircaseContinual-v1": "nethack:staircase,rules=oni,continual,actions=task",
        "NetHackStaircaseLvl3Continual-v1": "nethack:staircase,depth=3,rules=oni,continual,actions=task",
        "NetHackStaircaseLvl4Continual-v1": "nethack:staircase,depth=4,rules=oni,continual,actions=task",
        "NetHackOracle-v1": "nethack:oracle,rules=oni,actions=task", "NetHackOracleExtendedActions-v1": "nethack:oracle,rules=oni,actions=oni",
        "NetHackOracleSober-v1": "nethack:oracle,rules=oni,sober,actions=task", "NetHackOracleSoberExtendedActions-v1": "nethack:oracle,rules=oni,sober,actions=oni",
    ]
    /// ONI's port for its FastChat server (`scripts/launch_fastchat_server.sh`), which `--llm_server_addr HOST` implies.
    static let fastChatPort = 9001
    /// ONI's `--train_dir` default, under the current directory; Sample Factory's default `--experiment`.
    static let defaultTrainDirectory = "train_dir", defaultExperiment = "default"

    /// `arguments` with ONI's options written as Oni's.
    public static func translate(_ arguments: [String]) throws -> [String] {
        var result: [String] = []
        var trainDirectory: String?, experiment: String?, ownRunDirectory = false
        var rest: [String] = []  // from `--` on, untouched
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                rest = Array(arguments[(index - 1)...])
                break
            }
            guard argument.hasPrefix("--"), argument.count > 2 else {
                result.append(argument)
                continue
            }
            let name = String(argument.dropFirst(2))
            if name == "run-dir" { ownRunDirectory = true }
            func value() throws -> String {
                guard index < arguments.count, !arguments[index].hasPrefix("--") else { throw ValidationError("--\(name) (ONI's) needs a value") }
                index += 1
                return arguments[index - 1]
            }
            switch name {
            case "llm-reward-type":
                let type = try value()
                guard let reward = rewardTypes[type] else {
                    throw ValidationError(
                        type == "motif"
                            ? "--llm_reward_type motif (ONI's offline Motif): fit the reward model with `oni replay fit-reward RUN --reward ranking`, then train with --reward ranking --reward-init FILE"
                            : "--llm_reward_type \(type): ONI's types are \(rewardTypes.keys.sorted().joined(separator: ", ")) and motif")
                }
                result += ["--reward", reward]
            case "root-env":
                let task = try value()
                guard let env = environments[task] else {
                    throw ValidationError("--root_env \(task): Oni knows \(environments.keys.sorted().joined(separator: ", "))")
                }
                result += ["--env", env]
            case "goal-key":
                let key = try value()
                guard let goal = goals[key] else {
                    throw ValidationError("--goal_key \(key): ONI's goals are \(goals.keys.sorted().joined(separator: ", "))")
                }
                result += ["--goal", goal]
            case "llm-server-addr":
                // A host alone means ONI's FastChat port; a host:port or a URL is taken as it is.
                let host = try value()
                result += ["--llm-url", host.contains("://") ? host : host.contains(":") ? "http://\(host)/v1" : "http://\(host):\(fastChatPort)/v1"]
            case "train-dir": trainDirectory = try value()
            case "experiment": experiment = try value()
            case "prompt-version":
                // ONI's prompt versions are ONI's prompts: its default ones, or its reworded pair prompt.
                let version = try value()
                guard let prompt = ["default": "oni", "reworded": "oni-reworded"][version] else {
                    throw ValidationError("--prompt_version \(version): ONI's versions are default and reworded")
                }
                result += ["--prompt", prompt]
            case "wandb":
                let on = try value()
                guard ["false", "0", "no"].contains(on.lowercased()) else {
                    throw ValidationError("--wandb \(on): Oni writes TensorBoard files; `wandb sync --sync-tensorboard RUN_DIR/tb` puts a run in W&B (see the Tools article)")
                }
            default:
                result.append(argument)
            }
        }
        if trainDirectory != nil || experiment != nil {
            guard !ownRunDirectory else { throw ValidationError("--run-dir and ONI's --train_dir/--experiment both name the run directory: give one") }
            let directory = (trainDirectory ?? defaultTrainDirectory) + "/" + (experiment ?? defaultExperiment)
            result += ["--run-dir", directory]
        }
        return result + rest
    }
}
