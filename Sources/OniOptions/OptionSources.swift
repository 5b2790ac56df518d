import ArgumentParser

/// The arguments a command parses: the process's own, with aliases in Oni's spelling and
/// `--config FILE` replaced by the file's options (which the command line's then override).
public enum OptionSources {
    /// For `command`, from the process's arguments; a bad config file ends the process with its error.
    public static func arguments(for command: any ParsableCommand.Type, _ raw: [String] = Array(CommandLine.arguments.dropFirst())) -> [String] {
        do {
            return try expanded(raw, accepting: OptionValues.names(of: command))
        } catch {
            command.exit(withError: error)
        }
    }

    public static func expanded(_ raw: [String], accepting names: Set<String>) throws -> [String] {
        let configured = try ConfigFile.expand(ONISpellings.translate(OptionAliases.canonical(raw)), accepting: names)
        return try Preset.expand(configured, accepting: names, defaultEnv: EnvironmentOptions.defaultEnv)
    }
}

/// `--config FILE`, as each role's executable takes it (`OptionSources` reads the file before parsing).
public struct ConfigFileOption: ParsableArguments, Sendable {
    @Option(help: "JSON or YAML file of options (keys: long option names; a run's config.json is one); the command line's win.")
    public var config: String?
    @Option(help: ArgumentHelp("Start from a preset's values (oni: ONI's settings, see the Running article); a config file's and the command line's win.", valueName: "name"))
    public var preset: String?

    public init() {}
}
