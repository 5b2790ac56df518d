import Foundation
import Logging
import OniTransport

/// A role `oni run` started: a child process, or a thread of this process.
public protocol RunningRole: AnyObject {
    var isRunning: Bool { get }
    /// Its exit status once it stopped (0 = finished normally).
    var exitStatus: Int32 { get }
    /// Asks it to stop (SIGTERM to a process).
    func terminate()
    /// Asks again, harder (SIGINT to a process; a thread is already asked).
    func interrupt()
    /// Ends it now (SIGKILL to a process); a thread cannot be killed and is left to finish.
    func kill()
}

/// Starts the roles of a run; `Supervisor` watches them the same way whichever it is.
public protocol RoleLauncher: AnyObject {
    /// The transport the run's own clients (progress, status) use to reach the roles.
    var transport: any Transport { get }
    /// Starts `executable` (a sibling of `oni`, or an absolute path) with `arguments` as `role`,
    /// its output appended to `log`.
    func launch(role: String, executable: String, arguments: [String], log: FileHandle) throws -> any RunningRole
}

extension Process: RunningRole {
    public var exitStatus: Int32 { terminationStatus }
    public func kill() {
        Foundation.kill(processIdentifier, SIGKILL)
        waitUntilExit()
    }
}

/// Every role a child process, over ZeroMQ (`oni run`, the cluster scripts start them the same way).
public final class ProcessLauncher: RoleLauncher {
    public let transport: any Transport
    private let executableDirectory: URL

    /// The environment children start from (this process's, less what `ChildEnvironment` keeps back).
    private let baseEnvironment: [String: String]

    /// `executableDirectory` holds oni-learner, oni-worker and oni-annotator.
    public init(executableDirectory: URL, transport: any Transport, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.executableDirectory = executableDirectory
        self.transport = transport
        baseEnvironment = environment
    }

    public func launch(role: String, executable: String, arguments: [String], log: FileHandle) throws -> any RunningRole {
        let url = executable.hasPrefix("/") ? URL(fileURLWithPath: executable) : executableDirectory.appendingPathComponent(executable)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw RuntimeError.executableMissing(name: executable, searched: executableDirectory.path)
        }
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        // Children stop by themselves if this process dies without stopping them; secrets go
        // only to the executable that uses them.
        var environment = ChildEnvironment.for(executable: url, from: baseEnvironment)
        environment["ONI_PARENT_PID"] = "\(getpid())"
        process.environment = environment
        do {
            try process.run()
        } catch {
            throw RuntimeError.childFailed(role: role, detail: "could not start \(url.path): \(error)")
        }
        return process
    }
}

/// What a child process is given of this process's environment: everything but the secrets
/// it has no use for. The LLM API key (`ONI_LLM_API_KEY`, `OPENAI_API_KEY`) goes to
/// `oni-annotator` alone, never to workers, the learner or the local LLM server.
public enum ChildEnvironment {
    /// Secret variables and the executables (by file name) that may have them.
    public static let secrets: [String: Set<String>] = ["ONI_LLM_API_KEY": ["oni-annotator"], "OPENAI_API_KEY": ["oni-annotator"]]

    public static func `for`(executable: URL, from environment: [String: String]) -> [String: String] {
        let name = executable.lastPathComponent
        return environment.filter { key, _ in secrets[key].map { $0.contains(name) } ?? true }
    }
}

/// A role ready to run on a thread: what its command line said, parsed.
public struct ThreadRole: Sendable {
    /// Its logger's label and level (from its `--log-level`).
    public var label: String
    public var logLevel: Logger.Level
    public var body: @Sendable (_ transport: any Transport, _ stop: StopSignal, _ logger: Logger) throws -> Void

    public init(label: String, logLevel: Logger.Level, body: @escaping @Sendable (any Transport, StopSignal, Logger) throws -> Void) {
        self.label = label
        self.logLevel = logLevel
        self.body = body
    }
}

/// The roles as threads of this process joined by an in-memory transport (`oni run
/// --single-process`: one process to debug, profile or run under a sanitizer). Executables it
/// has no entry for (the local LLM server) still run as processes.
public final class ThreadLauncher: RoleLauncher {
    public let transport: any Transport
    /// Parses a role's command line into what runs on its thread, by executable name.
    private let entries: [String: ([String]) throws -> ThreadRole]
    private let processes: ProcessLauncher

    public init(
        entries: [String: ([String]) throws -> ThreadRole], executableDirectory: URL, transport: InMemoryTransport = InMemoryTransport()
    ) {
        self.entries = entries
        self.transport = transport
        processes = ProcessLauncher(executableDirectory: executableDirectory, transport: transport)
    }

    public func launch(role: String, executable: String, arguments: [String], log: FileHandle) throws -> any RunningRole {
        guard let entry = entries[executable] else { return try processes.launch(role: role, executable: executable, arguments: arguments, log: log) }
        let prepared: ThreadRole
        do {
            prepared = try entry(arguments)
        } catch {
            throw RuntimeError.childFailed(role: role, detail: "its options were refused: \(error)")
        }
        let handle = RoleThread()
        let logger = Logger(label: prepared.label) { label in
            var handler = RedactingLogHandler(FileLogHandler(label: label, file: log))
            handler.logLevel = prepared.logLevel
            return handler
        }
        let transport = self.transport, stop = handle.stop
        let thread = Thread {
            do {
                try prepared.body(transport, stop, logger)
                handle.finish(status: 0)
            } catch {
                logger.critical("\(role) failed", metadata: ["error": "\(error)"])
                handle.finish(status: 1)
            }
        }
        thread.name = "oni-\(role)"
        // Deep enough for the learner's update and NetHack's own stack use.
        thread.stackSize = 16 << 20
        thread.start()
        return handle
    }
}

/// A role on a thread of its own: stopped through its own stop signal.
final class RoleThread: RunningRole, @unchecked Sendable {
    let stop = StopSignal()
    private let state = NSLock()
    private var status: Int32?

    var isRunning: Bool { state.withLock { status == nil } }
    var exitStatus: Int32 { state.withLock { status ?? 0 } }
    func finish(status: Int32) { state.withLock { self.status = status } }
    func terminate() { stop.stop(reason: "asked to stop") }
    func interrupt() { terminate() }
    func kill() {}
}

/// swift-log's stream format, into a role's own log file.
struct FileLogHandler: LogHandler {
    let label: String
    let file: FileHandle
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    init(label: String, file: FileHandle) {
        self.label = label
        self.file = file
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = ISO8601DateFormatter.string(from: Date(), timeZone: .current, formatOptions: [.withInternetDateTime])
        let line = "\(time) \(event.level) \(label): \(fields.isEmpty ? "" : fields + " ")\(event.message)\n"
        file.write(Data(line.utf8))
    }
}
