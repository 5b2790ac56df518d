import Foundation
import Logging

/// Writes records to the run store on a background thread, in batched
/// transactions, so the learner's receive loop never waits on disk.
///
/// `submit` only blocks when `maxPending` records are already waiting (the
/// disk is slower than the experience stream); that back-pressure is counted,
/// and it bounds memory: 4096 rollouts of T=32, B=16 grid steps are ~230 MB.
public final class StoreWriter: @unchecked Sendable {
    /// Figures for metrics.
    public struct Stats: Sendable {
        /// Records written so far.
        public var written = 0
        /// Transactions committed so far.
        public var transactions = 0
        /// Records waiting to be written.
        public var pending = 0
        /// Times `submit` had to wait for room.
        public var stalls = 0
        /// Batches that failed to write (each is retried once, then dropped and logged).
        public var failedBatches = 0
    }

    private let condition = NSCondition()
    private var queue: [StoreRecord] = []
    private var stopping = false
    private var finished = false
    private var stats = Stats()
    private let maxPending: Int
    private let maxBatch: Int
    private let flushInterval: TimeInterval
    private let logger: Logger
    private let path: String
    private var thread: Thread?

    /// Opens the store at `path` on the writer's thread. Throws if it cannot be opened.
    public init(
        path: String, maxBatch: Int = 1000, flushInterval: TimeInterval = 0.2, maxPending: Int = 4096, logger: Logger
    ) throws(StorageError) {
        self.path = path
        self.maxBatch = maxBatch
        self.flushInterval = flushInterval
        self.maxPending = maxPending
        self.logger = logger
        // Open once here so that a bad path fails the caller, not the thread.
        let store = try RunStore(path: path)
        let box = StoreBox(store)
        let thread = Thread { [self] in self.run(box.store) }
        thread.name = "oni-store-writer"
        self.thread = thread
        thread.start()
    }

    /// Queues a record; blocks only while the queue is full.
    public func submit(_ record: StoreRecord) {
        condition.lock()
        defer { condition.unlock() }
        if queue.count >= maxPending && !stopping {
            stats.stalls += 1
            while queue.count >= maxPending && !stopping { condition.wait() }
        }
        queue.append(record)
        if queue.count >= maxBatch { condition.broadcast() }
    }

    /// Current figures.
    public var currentStats: Stats {
        condition.lock()
        defer { condition.unlock() }
        var s = stats
        s.pending = queue.count
        return s
    }

    /// Writes everything queued, then stops the thread. Idempotent.
    public func close() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func run(_ store: RunStore) {
        while true {
            condition.lock()
            if queue.count < maxBatch && !stopping {
                _ = condition.wait(until: Date(timeIntervalSinceNow: flushInterval))
            }
            let batch = Array(queue.prefix(maxBatch))
            queue.removeFirst(batch.count)
            let done = stopping && queue.isEmpty
            condition.broadcast()
            condition.unlock()

            if !batch.isEmpty { write(batch, to: store) }
            if done { break }
        }
        store.close()
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    private func write(_ batch: [StoreRecord], to store: RunStore) {
        for attempt in 1...2 {
            do {
                try store.write(batch)
                condition.lock()
                stats.written += batch.count
                stats.transactions += 1
                condition.unlock()
                return
            } catch {
                logger.error("store write failed", metadata: ["path": "\(path)", "attempt": "\(attempt)", "error": "\(error)", "records": "\(batch.count)"])
                if attempt == 1 { Thread.sleep(forTimeInterval: 0.1) }
            }
        }
        condition.lock()
        stats.failedBatches += 1
        condition.unlock()
    }
}

/// Carries a store onto the writer thread, which becomes its only user.
private final class StoreBox: @unchecked Sendable {
    let store: RunStore
    init(_ store: RunStore) { self.store = store }
}
