import ArgumentParser
import OniRuntime
import OniWire

/// What every role takes: logging, transport security and the frame limit.
public struct RoleOptions: ParsableArguments, Sendable {
    @Option(help: "Log level.") public var logLevel = LogLevel.info
    @Option(help: ArgumentHelp(CurveSettings.help, valueName: "dir")) public var curve: String?
    @Option(help: "Largest frame accepted, in bytes.") public var maxFrameBytes = WireProtocol.defaultMaxFrameBytes

    public init() {}

    public func validate() throws {
        do { try FrameLimit.validate(maxFrameBytes) } catch { throw ValidationError("\(error)") }
    }
}

/// The environment the workers play (it also fixes the learner's network) and the run's seed.
public struct EnvironmentOptions: ParsableArguments, Sendable {
    /// The environment when none is named.
    public static let defaultEnv = "grid:keyroom"
    @Option(help: "Environment: \(EnvironmentNames.list).") public var env = Self.defaultEnv
    @Option(help: "Seed: of the initial weights (learner), of the episodes (worker k plays seed + k under `oni run`).")
    public var seed: UInt64 = 1

    public init() {}
}
