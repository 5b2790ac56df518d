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
