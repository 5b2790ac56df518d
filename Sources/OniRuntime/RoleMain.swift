import CBLAS
import Foundation
import Logging
import OniTransport

/// The shared start of every role executable: logging, signal handling, one ZeroMQ context (the
/// role's transport).
public enum RoleMain {
    /// Bootstraps logging at `logLevel`, routes SIGINT/SIGTERM to a stop signal and runs `body`.
    /// With `curve` (a key directory), every socket the role binds or connects uses CURVE.
    public static func run(
        logLevel: String, label: String, curve: CurveSettings? = nil,
        _ body: (_ transport: any Transport, _ stop: StopSignal, _ logger: Logger) throws -> Void
    ) throws {
        _ = RoleLogging.bootstrap(level: logLevel)
        prepareForTraining(logger: Logger(label: "\(label).blas"))
        let context = try makeContext(curve: curve, logger: Logger(label: "\(label).curve"))
        let stop = StopSignal()
        let sources = stop.installSignalHandlers()
        stop.stopWhenOrphaned()
        defer { sources.forEach { $0.cancel() } }
        try body(context, stop, Logger(label: label))
    }

    /// What every process that runs roles sets once: the BLAS kernel that fits the CPU, glibc
    /// keeping large allocations, and one BLAS thread (roles share the machine with each other)
    /// unless OPENBLAS_NUM_THREADS says otherwise.
    public static func prepareForTraining(logger: Logger) {
        BLASKernel.ensureFittingKernel(logger: logger)
        AllocatorTuning.keepLargeAllocations()
        if ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil { openblas_set_num_threads(1) }
    }

    /// A plain context, or one whose sockets use CURVE with the keys `curve` names.
    public static func makeContext(curve: CurveSettings?, logger: Logger) throws -> ZMQContext {
        guard let curve else { return ZMQContext() }
        let security = try CurveSecurity.load(
            directory: curve.directory, binds: curve.binds, connects: curve.connects, clientKey: curve.clientKey, ownKeyName: curve.ownKeyName)
        logger.info(
            "CURVE on: every socket encrypted",
            metadata: [
                "keys": "\(curve.directory)", "server_key": "\(security.serverPublic.z85)",
                "client_key": "\(security.client?.publicKey.z85 ?? "-")", "authorized_clients": "\(security.authorized.count)",
            ])
        return try ZMQContext(security: security, logger: logger)
    }
}

/// Which CURVE keys a process reads from its key directory (`--curve DIR`).
public struct CurveSettings: Sendable {
    /// The directory `oni keys generate` made.
    public var directory: String
    /// The process binds sockets: it needs `server.key` and `authorized_clients`.
    public var binds: Bool
    /// The process connects sockets: it needs its client pair.
    public var connects: Bool
    /// The client pair to use instead of `DIR/client.key` (e.g. one made by `oni keys add-client`).
    public var clientKey: String?
    /// A pair `DIR/NAME.key` this process uses when the directory has one (a worker's id).
    public var ownKeyName: String?

    public init(directory: String, binds: Bool, connects: Bool, clientKey: String? = nil, ownKeyName: String? = nil) {
        self.directory = directory
        self.binds = binds
        self.connects = connects
        self.clientKey = clientKey
        self.ownKeyName = ownKeyName
    }

    /// Settings for a role given `--curve` (nil when absent).
    public static func from(_ directory: String?, clientKey: String?, binds: Bool, connects: Bool, ownKeyName: String? = nil) -> CurveSettings? {
        directory.map { CurveSettings(directory: $0, binds: binds, connects: connects, clientKey: clientKey, ownKeyName: ownKeyName) }
    }

    /// The help text of `--curve`, the same on every command.
    public static let help = "Encrypt every socket with CURVE, using the keys in this directory (made by `oni keys generate`)."
    /// The help text of `--curve-client-key`.
    public static let clientKeyHelp =
        "This process's client key pair (default: a worker's CURVE_DIR/ID.key if there is one, else CURVE_DIR/client.key; see `oni keys add-client`)."
}
