import ArgumentParser

/// A named set of option values (`--preset NAME` on `oni run` and on each role): what a run is
/// set to before its config file and its command line, which both win over it. Oni's own
/// defaults stay the defaults; a preset only applies when asked for.
public enum Preset: String, CaseIterable, Sendable {
    /// ONI's settings (facebookresearch/oni at f0f86e8; files named from its root, `SF/` is
    /// `rl_baseline/sample-factory/sample_factory/`), per task family.
    case oni

    /// One value and where it comes from.
    public struct Setting: Sendable, Equatable {
        public var option: String
        public var value: String
        public var source: String
    }

    /// The values for a run of `env` (its task family decides the extrinsic coefficient) with
    /// the reward type `reward` as given (ONI's classifier is a character CNN).
    public func settings(env: String, reward: String? = nil) -> [Setting] {
        switch self {
        case .oni:
            // ONI's README: 0.1 on Score, 10 on its other (sparse-success) tasks.
            let score = env.hasPrefix("nethack:score")
            let classifier = reward == "classification"
                ? [Setting(option: "reward-model", value: "char-cnn", source: "rlaif/reward_model.py l.204-265 (ClassificationRewardModel)")] : []
            return classifier + [
                Setting(option: "extrinsic-reward-coeff", value: score ? "0.1" : "10", source: "README.md l.57 (0.1 for Score, 10 for the others)"),
                Setting(option: "llm-reward-coeff", value: "0.4", source: "README.md l.40-52 (the run it gives)"),
                Setting(option: "extrinsic-reward-clip", value: "10", source: "scripts/main.py l.185-190 (reward_clip), SF/algorithms/appo/actor_worker.py l.520-532 (before the coefficients)"),
                Setting(option: "reward-clip", value: "0", source: "SF/algorithms/appo/learner.py l.1222-1227 (the composed reward is not clipped)"),
                Setting(option: "reward-scale", value: "1", source: "scripts/main.py l.175-184"),
                Setting(option: "beta-count-exponent", value: "3", source: "SF/algorithms/utils/arguments.py l.68-73"),
                Setting(option: "count-scope", value: "episode", source: "rl_baseline/obs_wrappers.py l.293-329 (counts cleared at reset)"),
                Setting(option: "classification-threshold", value: "0.5", source: "scripts/main.py l.81"),
                Setting(option: "ranking-payment", value: "zscore", source: "SF/algorithms/appo/learner.py l.1066-1096 (running z-score above the threshold)"),
                Setting(option: "ranking-threshold", value: "-0.5", source: "SF/algorithms/utils/arguments.py l.74-81 (eps_threshold_quantile)"),
                Setting(option: "pair-sampling", value: "frequency", source: "rlaif/dataset.py l.304-385 (pairs drawn from a subsample of steps)"),
                Setting(option: "llm-batch-size", value: "100", source: "scripts/main.py l.72"),
                Setting(option: "prompt", value: "oni", source: "rlaif/prompts.py, scripts/main.py l.73-74 (prompt_version default, goal_key defaultgoal)"),
                Setting(option: "message-timing", value: "before", source: "SF/algorithms/appo/actor_worker.py l.654-727 (the observation the action was chosen on)"),
                Setting(option: "empty-messages", value: "count", source: "rl_baseline/obs_wrappers.py l.293-329, SF/algorithms/appo/learner.py l.1129-1157 (no exception for empty messages)"),
                Setting(option: "learning-rate", value: "0.0001", source: "scripts/main.py l.138"),
                Setting(option: "clip", value: "0.1", source: "SF/algorithms/appo/appo.py l.169-174 (ppo_clip_ratio)"),
                Setting(option: "value-clip", value: "1", source: "SF/algorithms/appo/appo.py l.175-180 (ppo_clip_value; always on)"),
                Setting(option: "entropy-coefficient", value: "0.003", source: "SF/algorithms/appo/appo.py l.223-255 (exploration_loss_coeff)"),
                Setting(option: "value-coefficient", value: "0.5", source: "SF/algorithms/appo/appo.py l.229-234"),
                Setting(option: "discount", value: "0.99", source: "scripts/main.py l.174"),
                Setting(option: "max-grad-norm", value: "4", source: "SF/algorithms/appo/appo.py l.215-220"),
                Setting(option: "batch-size", value: "1024", source: "SF/algorithms/appo/appo.py l.181-183"),
                Setting(option: "rollout-length", value: "32", source: "SF/algorithms/appo/appo.py l.117-132"),
                Setting(option: "hidden", value: "512", source: "scripts/main.py l.217-222 (hidden_size: GRU and encoder width)"),
                Setting(option: "core", value: "gru", source: "SF/algorithms/appo/appo.py l.149-167 (use_rnn, gru)"),
            ]
        }
    }

    /// `env` as the preset plays it: ONI's own task rules and actions for the NetHack tasks it
    /// has (what the name already says about rules or actions stays).
    public func environment(_ env: String) -> String {
        let parts = env.split(separator: ",").map(String.init)
        guard self == .oni, let task = parts.first, ["nethack:score", "nethack:staircase", "nethack:oracle"].contains(task) else { return env }
        var name = env
        if !parts.contains(where: { $0.hasPrefix("rules=") }) { name += ",rules=oni" }
        if !parts.contains(where: { $0.hasPrefix("actions=") }) { name += ",actions=oni" }
        return name
    }

    /// `arguments` with `--preset NAME` replaced by the preset's values for the options the
    /// command takes (`accepting`), put first so that a config file's and the command line's win.
    public static func expand(_ arguments: [String], accepting accepted: Set<String>, defaultEnv: String) throws -> [String] {
        guard let index = arguments.lastIndex(of: "--preset") else { return arguments }
        guard index + 1 < arguments.count else { throw ValidationError("--preset needs a name: \(allCases.map(\.rawValue).joined(separator: ", "))") }
        guard let preset = Preset(rawValue: arguments[index + 1]) else {
            throw ValidationError("--preset \(arguments[index + 1]): the presets are \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var rest = arguments.enumerated().filter { position, argument in
            // Every --preset and its name go (a config file may have named one too).
            !(argument == "--preset" || (position > 0 && arguments[position - 1] == "--preset"))
        }.map(\.element)
        guard !rest.contains("--resume") else {
            throw ValidationError("--preset with --resume: a resumed run takes the options it saved (the preset's values among them); leave out --preset")
        }
        var env = defaultEnv
        if let envIndex = rest.lastIndex(of: "--env"), envIndex + 1 < rest.count {
            env = rest[envIndex + 1]
            rest[envIndex + 1] = preset.environment(env)
        } else if accepted.contains("env"), preset.environment(env) != env {
            rest += ["--env", preset.environment(env)]
        }
        let reward = rest.lastIndex(of: "--reward").flatMap { $0 + 1 < rest.count ? rest[$0 + 1] : nil }
        // A command line that chose Oni's ways of answering (one-token labels, scored pairs, label
        // checks) keeps Oni's prompt, which those need, rather than being refused.
        func given(_ option: String, _ values: Set<String>) -> Bool {
            rest.indices.contains { rest[$0] == option && $0 + 1 < rest.count && values.contains(rest[$0 + 1]) }
        }
        let onisAnswers = given("--label-mode", ["logprob"]) || given("--pair-judge", ["scores"]) || given("--label-check", ["agree", "vote"])
        let values = preset.settings(env: env, reward: reward)
            .filter { accepted.contains($0.option) && !(onisAnswers && $0.option == "prompt") }
            .flatMap { ["--\($0.option)", $0.value] }
        return values + rest
    }
}
