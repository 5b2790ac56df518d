/// A counting semaphore for Swift concurrency: `acquire()` suspends (without
/// blocking a thread) until one of a fixed number of permits is free.
/// Waiters are served first come, first served.
public actor AsyncSemaphore {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private var permits: Int
    private var waiters: [Waiter] = []
    private var nextWaiterID: UInt64 = 0

    /// Creates a semaphore with `permits` free permits (at least 1).
    public init(permits: Int) {
        self.permits = max(1, permits)
    }

    /// Permits that are free right now.
    public var availablePermits: Int { permits }

    /// Tasks currently suspended in `acquire()`.
    public var waitingCount: Int { waiters.count }

    /// Takes a permit, suspending until one is free. Every successful call
    /// must be balanced by one `release()`.
    ///
    /// - Throws: `CancellationError` if the task is cancelled before it got a
    ///   permit; no permit is held then.
    public func acquire() async throws(CancellationError) {
        if Task.isCancelled { throw CancellationError() }
        if permits > 0 {
            permits -= 1
            return
        }
        let id = nextWaiterID
        nextWaiterID &+= 1
        let granted = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                // A cancellation that landed before this point finds no waiter
                // to remove, so it must be honoured here.
                if Task.isCancelled {
                    continuation.resume(returning: false)
                } else {
                    waiters.append(Waiter(id: id, continuation: continuation))
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
        if !granted { throw CancellationError() }
    }

    /// Returns a permit, handing it straight to the longest-waiting task if any.
    public func release() {
        if waiters.isEmpty {
            permits += 1
        } else {
            waiters.removeFirst().continuation.resume(returning: true)
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(returning: false)
    }
}
