import Dispatch

/// Runs independent pieces of work on several threads and returns when all are done.
public enum Parallel {
    /// `body(0) … body(count − 1)`, at once when `count` > 1 (the calling thread takes part).
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1 else {
            if count == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let work = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: count) { work.value($0) }
        }
    }
}

/// A value handed to other threads where the caller guarantees that they touch disjoint parts of it.
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
