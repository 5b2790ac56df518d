import OniEnvironments

/// The environment names the roles accept, for help texts.
public enum EnvironmentNames {
    public static var list: String { EnvironmentFactory.knownNames.joined(separator: ", ") }

    /// The names of `env`'s actions, or nil when it cannot be made here (NetHack not installed).
    public static func actionNames(of env: String) -> [String]? {
        (try? EnvironmentFactory.make(name: env))?.actionNames
    }
}
