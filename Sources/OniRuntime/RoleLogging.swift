import Logging

/// Log setup for the executables (libraries only take a Logger).
public enum RoleLogging {
    /// Sends logs to standard error at `level` (trace, debug, info, notice, warning, error,
    /// critical), credentials in URLs removed.
    public static func bootstrap(level: String) -> Logger.Level {
        let parsed = Logger.Level(rawValue: level.lowercased()) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = RedactingLogHandler(StreamLogHandler.standardError(label: label))
            handler.logLevel = parsed
            return handler
        }
        return parsed
    }
}
