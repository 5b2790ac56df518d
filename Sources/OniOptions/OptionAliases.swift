/// Other spellings of Oni's options, rewritten to Oni's own before parsing: the names older
/// releases used (kept for one release), ONI's names for the same options (`--gamma`),
/// snake_case spellings (`--llm_batch_size`, as ONI and Sample Factory write them), and
/// `--name=value`. Hidden from help; the Running article of the OniRuntime documentation lists them.
public enum OptionAliases {
    /// Old or foreign name → Oni's name.
    static let renamed: [String: String] = [
        "num-envs": "envs-per-worker",
        "num-envs-per-worker": "envs-per-worker",
        "examples": "llm-examples",
        // Keys of `config.json` files written before options were declared once.
        "run-directory": "run-dir",
        "llm-base-url": "llm-url",
        // ONI's (Sample Factory's) names whose values mean the same; its options whose values
        // need translating are `ONISpellings`'.
        "gamma": "discount", "exploration-loss-coeff": "entropy-coefficient", "ppo-clip-ratio": "clip",
        "train-for-env-steps": "max-env-steps", "save-every-sec": "checkpoint-interval", "hidden-size": "hidden",
        "num-workers": "workers", "rollout": "rollout-length",
    ]

    /// Names that are an alias only when followed by a value (`--cache PATH`; `--cache` alone is the flag).
    static let renamedWithValue: [String: String] = ["cache": "annotation-cache"]

    /// Flags that stand for an option with a value.
    static let expanded: [String: [String]] = ["no-store-rollouts": ["--store-fraction", "0"], "store-rollouts": []]

    /// `arguments` with every alias replaced by Oni's spelling.
    public static func canonical(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                result.append(argument)
                if argument == "--" { result += arguments[index...]; break }
                continue
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            name = canonicalName(name)
            let followedByValue = inlineValue != nil || (index < arguments.count && !arguments[index].hasPrefix("--"))
            if let replacement = expanded[name] {
                result += replacement
                continue
            }
            if followedByValue, let renamed = renamedWithValue[name] { name = renamed }
            result.append("--" + name)
            if let inlineValue { result.append(inlineValue) }
        }
        return result
    }

    /// Oni's spelling of one long name (without dashes).
    public static func canonicalName(_ name: String) -> String {
        let kebab = name.contains("_") ? name.replacingOccurrences(of: "_", with: "-") : name
        let lowered = kebab.contains(where: \.isUppercase) ? OptionValues.longName(ofProperty: kebab) : kebab
        return renamed[lowered] ?? lowered
    }
}
