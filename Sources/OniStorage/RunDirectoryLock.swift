import Foundation

/// An exclusive lock on a run directory (`RUN_DIR/oni.lock`, flock), so two
/// learners never write one store. Released when the process exits or on `release()`.
public final class RunDirectoryLock {
    private var descriptor: Int32
    public let path: String

    /// Takes the lock or throws `locked` at once if another process holds it.
    public init(runDirectory: URL) throws(RunDirectoryLockError) {
        path = runDirectory.appendingPathComponent("oni.lock").path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            descriptor = -1
            throw .locked(path: path, holder: holder)
        }
        let note = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName)\n"
        ftruncate(descriptor, 0)
        _ = note.withCString { write(descriptor, $0, strlen($0)) }
    }

    public func release() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
    }

    deinit { release() }
}

/// Why a run directory could not be locked.
public enum RunDirectoryLockError: Error, Equatable, CustomStringConvertible {
    /// Another process (`holder`, as it wrote itself into the file) is using the run directory.
    case locked(path: String, holder: String)
    /// The lock file could not be created.
    case cannotOpen(path: String, reason: String)

    public var description: String {
        switch self {
        case let .locked(path, holder):
            "run directory is in use by another learner (\(holder.isEmpty ? "unknown process" : holder)); lock \(path)"
        case let .cannotOpen(path, reason): "cannot create lock \(path): \(reason)"
        }
    }
}
