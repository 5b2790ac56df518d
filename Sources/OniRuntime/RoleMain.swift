import CBLAS
import Foundation
import Logging
import OniTransport

/// The shared start of every role executable: logging, signal handling, one ZeroMQ context.
public enum RoleMain {
    /// Bootstraps logging at `logLevel`, routes SIGINT/SIGTERM to a stop signal and runs `body`.
    public static func run(
        logLevel: String, label: String, _ body: (_ context: ZMQContext, _ stop: StopSignal, _ logger: Logger) throws -> Void
    ) throws {
        _ = RoleLogging.bootstrap(level: logLevel)
        BLASKernel.ensureFittingKernel(logger: Logger(label: "\(label).blas"))
        // Roles share the machine with each other: one BLAS thread each unless told otherwise.
        if ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil { openblas_set_num_threads(1) }
        let stop = StopSignal()
        let sources = stop.installSignalHandlers()
        stop.stopWhenOrphaned()
        defer { sources.forEach { $0.cancel() } }
        try body(ZMQContext(), stop, Logger(label: label))
    }
}
