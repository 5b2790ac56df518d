import OniEnvironments

/// The environment names the roles accept, for help texts.
public enum EnvironmentNames {
    public static var list: String { EnvironmentFactory.knownNames.joined(separator: ", ") }
}
