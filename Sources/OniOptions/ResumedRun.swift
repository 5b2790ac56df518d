import ArgumentParser
import Foundation
import OniCore

/// `oni run --resume`: the options the run was started with (`RUN_DIR/config.json`), of which the
/// command line may change only the stopping point and the log level — anything else that differs
/// is refused, naming it, unless `--override KEY=VALUE` says so.
public enum ResumedRun {
    /// Options a resumed run takes from the command line without `--override`.
    static let free = RunSettings.unsaved.union(["max-env-steps", "log-level", "run-dir"])
    /// Of those, the ones taken from the command line (the others say which run, or how to read options).
    static let taken: Set<String> = ["max-env-steps", "log-level", "fresh-weights", "single-process"]

    /// The settings to resume `runDirectory` with. `given` are the command line's arguments
    /// (canonical, config file expanded) that produced `commandLine`.
    public static func settings(
        runDirectory: String, given: [String], commandLine: RunSettings, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> RunSettings {
        let path = URL(fileURLWithPath: runDirectory).appendingPathComponent("config.json").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("--resume: \(path) not found; is \(runDirectory) a run directory made by `oni run`?")
        }
        let file = try ConfigFile(path: path)
        var savedArguments = try file.arguments(accepting: OptionValues.names(of: RunSettings.self))
        // Runs saved before the recurrent core existed had a feed-forward network.
        if !file.options.contains(where: { $0.name == "core" }) { savedArguments += ["--core", "none"] }
        let saved: RunSettings
        do { saved = try RunSettings.parse(savedArguments) } catch {
            throw ValidationError("--resume: \(path) holds options this build cannot read: \(RunSettings.message(for: error))")
        }

        let overrides = try commandLine.run.override.map(parseOverride)
        let overridden = Set(overrides.map(\.name))
        let savedValues = Dictionary(OptionValues.of(saved).map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        let givenValues = Dictionary(OptionValues.of(commandLine).map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        // A URL saved without its credentials is the same URL given with them.
        func same(_ name: String) -> Bool {
            if case let .text(saved)? = savedValues[name], case let .text(given)? = givenValues[name] {
                return saved == given || (saved.contains("://***@") && Redaction.credentials(in: given) == saved)
            }
            return savedValues[name] == givenValues[name]
        }
        let changed = names(in: given).subtracting(free).subtracting(overridden).filter { !same($0) }.sorted()
        guard changed.isEmpty else {
            let detail = changed.map { "--\($0) (saved \(describe(savedValues[$0])), given \(describe(givenValues[$0])))" }.joined(separator: ", ")
            throw ValidationError("--resume: \(detail) differ from the run's saved options; pass --override KEY=VALUE to change them anyway")
        }
        let flags = Set(OptionValues.of(OptionValues.defaults(of: RunSettings.self)).filter { if case .flag = $0.value { true } else { false } }.map(\.name))
        let overrideArguments = overrides.flatMap { override -> [String] in
            flags.contains(override.name) ? [override.value == "false" ? "--no-\(override.name)" : "--\(override.name)"] : ["--\(override.name)", override.value]
        }
        let kept = OptionValues.of(commandLine).filter { taken.contains($0.name) && names(in: given).contains($0.name) }
        var resumed = try RunSettings.parse(savedArguments + overrideArguments + kept.flatMap(\.arguments))
        resumed.run.runDir = runDirectory
        resumed.run.resume = true
        // The saved URL lost its credentials: the command line's (or ONI_LLM_BASE_URL) must give
        // the same URL with them, or the run would quietly go on with another labeller.
        if let saved = resumed.annotator.llmUrl, saved.contains("://***@") {
            let supplied = names(in: given).contains("llm-url") ? commandLine.annotator.llmUrl : environment["ONI_LLM_BASE_URL"]
            guard let supplied, Redaction.credentials(in: supplied) == saved else {
                throw ValidationError(
                    "--resume: the run's LLM server is \(saved); its credentials are not saved: give the URL with them (--llm-url or ONI_LLM_BASE_URL)")
            }
            resumed.annotator.llmUrl = supplied
        }
        return resumed
    }

    /// The long names set by `arguments` (`--no-x` sets `x`).
    static func names(in arguments: [String]) -> Set<String> {
        let known = OniCommandOptions.allNames
        return Set(arguments.compactMap { argument -> String? in
            guard argument.hasPrefix("--"), argument.count > 2 else { return nil }
            let name = String(argument.dropFirst(2))
            return name.hasPrefix("no-") && !known.contains(name) ? String(name.dropFirst(3)) : name
        })
    }

    static func parseOverride(_ text: String) throws -> (name: String, value: String) {
        guard let equals = text.firstIndex(of: "=") else { throw ValidationError("--override takes KEY=VALUE, got '\(text)'") }
        let name = OptionAliases.canonicalName(String(text[..<equals]).trimmingCharacters(in: CharacterSet(charactersIn: "-")))
        guard OptionValues.names(of: RunSettings.self).contains(name) else { throw ValidationError("--override: oni run has no option '\(name)'") }
        return (name, String(text[text.index(after: equals)...]))
    }

    private static func describe(_ value: OptionValue.Value?) -> String {
        switch value {
        case .flag(let on)?: return on ? "on" : "off"
        case let value?: return OptionValue(name: "", value: value).text
        case nil: return "unset"
        }
    }
}
