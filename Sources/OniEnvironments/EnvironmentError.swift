import OniCore

/// Errors building environments.
public enum EnvironmentError: Error, CustomStringConvertible, Equatable {
    /// No environment of that name exists.
    case unknownEnvironment(name: String, known: [String])

    public var description: String {
        switch self {
        case let .unknownEnvironment(name, known):
            "unknown environment '\(name)'; known: \(known.joined(separator: ", "))"
        }
    }
}

/// Builds an environment by its command-line name (`grid:keyroom`, …).
public enum EnvironmentFactory {
    /// Every name `make(name:)` accepts.
    public static var knownNames: [String] { GridTask.allCases.map { "grid:\($0.rawValue)" } }

    public static func make(name: String) throws(EnvironmentError) -> any Environment {
        try GridWorld(name: name)
    }
}
