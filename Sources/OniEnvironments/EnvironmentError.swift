import OniCore

/// Errors building environments.
public enum EnvironmentError: Error, CustomStringConvertible, Equatable {
    /// No environment of that name exists.
    case unknownEnvironment(name: String, known: [String])
    /// The name is known but its options are not.
    case invalidOptions(name: String, reason: String)
    /// NetHack (the NLE wheel's files) is not installed where Oni looks.
    case nleMissing(searched: [String], hint: String)
    /// libnethack could not be loaded or started.
    case nleFailed(String)

    public var description: String {
        switch self {
        case let .unknownEnvironment(name, known):
            "unknown environment '\(name)'; known: \(known.joined(separator: ", "))"
        case let .invalidOptions(name, reason):
            "environment '\(name)': \(reason)"
        case let .nleMissing(searched, hint):
            "NetHack (NLE 1.3.0) not found in \(searched.joined(separator: ", ")): \(hint)"
        case let .nleFailed(reason):
            "NetHack could not run: \(reason)"
        }
    }
}

/// Builds an environment by its command-line name (`grid:keyroom`, …).
public enum EnvironmentFactory {
    /// Every name `make(name:)` accepts.
    public static var knownNames: [String] {
        GridTask.allCases.map { "grid:\($0.rawValue)" } + NetHackTask.allCases.map { "nethack:\($0.rawValue)" }
    }

    public static func make(name: String) throws(EnvironmentError) -> any Environment {
        if name.hasPrefix("nethack:") { return try NetHackEnvironment(name: name) }
        return try GridWorld(name: name)
    }
}
