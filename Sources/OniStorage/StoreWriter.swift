import Foundation
import Logging

/// Writes records to the run store on a background thread, in batched
/// transactions, so the learner's receive loop never waits on disk.
///
/// Memory is bounded: rollout blobs beyond `maxPendingBytes` are dropped and
/// counted rather than queued (the learner must keep up with the workers even
/// when the disk cannot), and so is any record beyond `maxPendingRecords`.
/// Messages, labels and metrics are small and come first in importance; they
/// are only dropped if the writer is hopelessly behind.
public final class StoreWriter: @unchecked Sendable {
    /// Figures for metrics.
    public struct Stats: Sendable {
        /// Records written so far.
        public var written = 0
        /// Transactions committed so far.
        public var transactions = 0
        /// Records waiting to be written.
        public var pending = 0
        /// Bytes of rollout blobs waiting to be written.
        public var pendingBytes = 0
        /// Rollouts not stored because the queue was full.
        public var droppedRollouts = 0
        /// Other records not stored because the queue was full.
        public var droppedRecords = 0
        /// Records SQLite refused (each is tried alone after its batch failed, then dropped and logged).
        public var failedRecords = 0
        /// Bytes the rollout blobs take in the store, and the oldest blobs dropped to keep it under the cap.
        public var blobBytes: Int64 = 0
        public var thinnedRollouts = 0
    }

    private let condition = NSCondition()
    private var queue: [StoreRecord] = []
    private var stopping = false
    private var finished = false
    private var stats = Stats()
    private let maxPendingBytes: Int
    private let maxPendingRecords: Int
    private let maxBatch: Int
    private let flushInterval: TimeInterval
    private let logger: Logger
    private let path: String
    /// The cap on `Stats.blobBytes` (nil = none): past it the oldest blobs are thinned to 90% of it.
    public let maxBlobBytes: Int64?

    /// Opens the store at `path` (a bad path fails here, not on the thread) and starts writing.
    public init(
        path: String, maxBatch: Int = 1000, flushInterval: TimeInterval = 0.2, maxPendingBytes: Int = 256 << 20,
        maxPendingRecords: Int = 1_000_000, maxBlobBytes: Int64? = nil, logger: Logger
    ) throws(StorageError) {
        self.path = path
        self.maxBlobBytes = maxBlobBytes
        self.maxBatch = maxBatch
        self.flushInterval = flushInterval
        self.maxPendingBytes = maxPendingBytes
        self.maxPendingRecords = maxPendingRecords
        self.logger = logger
        let box = StoreBox(try RunStore(path: path))
        stats.blobBytes = try box.store.blobBytes()
        let thread = Thread { [self] in self.run(box.store) }
        thread.name = "oni-store-writer"
        thread.start()
    }

    /// Queues a record without waiting. Returns false if it was dropped because the queue is full.
    @discardableResult
    public func submit(_ record: StoreRecord) -> Bool {
        let size = record.blobBytes
        condition.lock()
        defer { condition.unlock() }
        if stopping || queue.count >= maxPendingRecords {
            stats.droppedRecords += 1
            return false
        }
        if size > 0 && stats.pendingBytes + size > maxPendingBytes {
            stats.droppedRollouts += 1
            return false
        }
        queue.append(record)
        stats.pendingBytes += size
        if queue.count >= maxBatch { condition.broadcast() }
        return true
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
            stats.pendingBytes -= batch.reduce(0) { $0 + $1.blobBytes }
            let done = stopping && queue.isEmpty
            condition.unlock()

            if !batch.isEmpty {
                let before = store.blobBytesWritten
                write(batch, to: store)
                keepUnderCap(store, since: before)
            }
            if done { break }
        }
        store.close()
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// One transaction for the batch; if it fails, each record alone, so one bad record costs only itself.
    private func write(_ batch: [StoreRecord], to store: RunStore) {
        do {
            try store.write(batch)
            count(written: batch.count, transactions: 1, failed: 0)
            return
        } catch {
            logger.warning("store batch failed; writing its records one by one", metadata: ["path": "\(path)", "error": "\(error)", "records": "\(batch.count)"])
        }
        var written = 0, failed = 0
        for record in batch {
            do {
                try store.write([record])
                written += 1
            } catch {
                failed += 1
                if failed <= 3 { logger.error("store refused a record", metadata: ["path": "\(path)", "error": "\(error)"]) }
            }
        }
        count(written: written, transactions: written, failed: failed)
    }

    /// After a batch: the blobs' bytes, and the oldest thinned when they pass the cap.
    private func keepUnderCap(_ store: RunStore, since before: Int64) {
        condition.lock()
        stats.blobBytes += store.blobBytesWritten - before
        let bytes = stats.blobBytes
        condition.unlock()
        guard let cap = maxBlobBytes, bytes > cap else { return }
        do {
            let thinned = try store.thinOldest(freeing: bytes - cap * 9 / 10)
            condition.lock()
            stats.blobBytes -= thinned.bytes
            stats.thinnedRollouts += thinned.rollouts
            condition.unlock()
        } catch {
            logger.error("could not thin the oldest rollouts; the store goes past its cap", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    private func count(written: Int, transactions: Int, failed: Int) {
        condition.lock()
        stats.written += written
        stats.transactions += transactions
        stats.failedRecords += failed
        condition.unlock()
    }
}

/// Carries a store onto the writer thread, which becomes its only user.
private final class StoreBox: @unchecked Sendable {
    let store: RunStore
    init(_ store: RunStore) { self.store = store }
}
