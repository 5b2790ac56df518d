import Dispatch
import Foundation
import Synchronization

/// A flag the role loops poll to stop cleanly; set by SIGINT/SIGTERM or by code.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    private let reason = Mutex<String?>(nil)

    public init() {}

    /// Asks every loop watching this signal to stop.
    public func stop(reason text: String) {
        reason.withLock { if $0 == nil { $0 = text } }
        flag.store(true, ordering: .releasing)
    }

    public var isStopped: Bool { flag.load(ordering: .acquiring) }
    /// Why the stop was requested (the first reason given).
    public var stopReason: String? { reason.withLock { $0 } }

    /// Stops when the process whose id is in the environment variable
    /// `ONI_PARENT_PID` is no longer our parent (`oni run` set it and then died),
    /// so no role outlives the run that started it.
    public func stopWhenOrphaned(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let text = environment["ONI_PARENT_PID"], let parent = Int32(text) else { return }
        let thread = Thread { [self] in
            while !self.isStopped {
                if getppid() != parent {
                    self.stop(reason: "parent oni run (pid \(parent)) exited")
                    return
                }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        thread.name = "oni-parent-watch"
        thread.start()
    }

    /// Routes SIGINT and SIGTERM to `stop`. Keep the returned sources alive.
    public func installSignalHandlers(_ signals: [Int32] = [SIGINT, SIGTERM]) -> [any DispatchSourceSignal] {
        signals.map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in
                if self.isStopped {
                    // A second signal while stopping: the user means it.
                    FileHandle.standardError.write(Data("stopping now (second signal)\n".utf8))
                    exit(130)
                }
                self.stop(reason: sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)")
            }
            source.resume()
            return source
        }
    }
}
