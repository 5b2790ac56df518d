/// Errors starting or running a role.
public enum RuntimeError: Error, Equatable, CustomStringConvertible {
    /// A configuration value is out of range or inconsistent.
    case invalidConfiguration(String)
    /// A child process of `oni run` could not be started or died.
    case childFailed(role: String, detail: String)
    /// A sibling executable was not found next to `oni`.
    case executableMissing(name: String, searched: String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(text): "invalid configuration: \(text)"
        case let .childFailed(role, detail): "\(role) failed: \(detail)"
        case let .executableMissing(name, searched): "cannot find \(name) in \(searched); build all products with `swift build`"
        }
    }
}

/// The version of this build of Oni.
public enum OniVersion {
    public static let current = "0.6.0"
}
