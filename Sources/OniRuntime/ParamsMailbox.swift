import Foundation
import OniWire

/// The newest Params the trainer's thread encoded, and the env-step count they are stamped with.
final class ParamsMailbox: @unchecked Sendable {
    private let lock = NSLock()
    private var params: Oni_V1_Params?
    private var steps: UInt64 = 0

    func post(_ params: Oni_V1_Params) {
        lock.lock()
        self.params = params
        lock.unlock()
    }

    var newest: Oni_V1_Params? {
        lock.lock()
        defer { lock.unlock() }
        return params
    }

    var envSteps: UInt64 {
        get {
            lock.lock()
            defer { lock.unlock() }
            return steps
        }
        set {
            lock.lock()
            steps = newValue
            lock.unlock()
        }
    }
}
