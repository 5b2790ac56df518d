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
        try ConfigFile.expand(OptionAliases.canonical(raw), accepting: names)
    }
}
