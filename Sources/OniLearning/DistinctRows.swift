import OniNeural

/// The distinct rows of a batch of zero-padded byte strings (messages): each row's place among
/// them, and the distinct rows side by side. A batch of game messages repeats a few dozen
/// (the empty one above all), so a layer that computes each row on its own can compute each
/// distinct row once. Buffers are kept between batches.
struct DistinctRows {
    /// Bytes per row.
    let length: Int
    /// Row r of the last batch is distinct row `index[r]`.
    private(set) var index: [Int32] = []
    /// The distinct rows, [count, length] (the first `count` rows of the buffer).
    private(set) var bytes: [UInt8] = []
    private(set) var count = 0
    /// One past the last nonzero byte of the longest row (0 when every row is zeros).
    private(set) var longest = 0
    /// Per distinct row: one past its last nonzero byte, and the hash of the bytes before it.
    private var ends: [Int32] = []
    private var hashes: [UInt64] = []
    /// Open addressing: a distinct row's index + 1, or 0 for a free slot.
    private var slots: [Int32] = []

    init(length: Int) {
        self.length = length
    }

    /// Finds the distinct rows of `source` [rows, length].
    mutating func update(_ source: UnsafeBufferPointer<UInt8>, rows: Int) {
        precondition(source.count >= rows * length, "DistinctRows: \(source.count) bytes for \(rows) rows of \(length)")
        let length = self.length
        index.reuse(count: rows)
        ends.reuse(count: rows)
        hashes.reuse(count: rows)
        bytes.reuse(count: rows * length)
        var capacity = 16
        while capacity < 2 * rows { capacity <<= 1 }
        slots.reuseZeroed(count: capacity)
        let mask = capacity - 1
        var count = 0, longest = 0
        index.withUnsafeMutableBufferPointer { index in
            ends.withUnsafeMutableBufferPointer { ends in
                hashes.withUnsafeMutableBufferPointer { hashes in
                    bytes.withUnsafeMutableBufferPointer { bytes in
                        slots.withUnsafeMutableBufferPointer { slots in
                            for r in 0..<rows {
                                let row = r * length
                                var end = length
                                while end > 0 && source[row + end - 1] == 0 { end -= 1 }
                                var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
                                for p in 0..<end { hash = (hash ^ UInt64(source[row + p])) &* 0x100_0000_01b3 }
                                var slot = Int(truncatingIfNeeded: hash ^ (hash >> 32)) & mask
                                while true {
                                    let entry = Int(slots[slot])
                                    if entry == 0 {
                                        slots[slot] = Int32(count + 1)
                                        (ends[count], hashes[count]) = (Int32(end), hash)
                                        for p in 0..<length { bytes[count * length + p] = source[row + p] }
                                        index[r] = Int32(count)
                                        count += 1
                                        longest = max(longest, end)
                                        break
                                    }
                                    let k = entry - 1
                                    if hashes[k] == hash && Int(ends[k]) == end && Self.same(bytes, k * length, source, row, end) {
                                        index[r] = Int32(k)
                                        break
                                    }
                                    slot = (slot + 1) & mask
                                }
                            }
                        }
                    }
                }
            }
        }
        (self.count, self.longest) = (count, longest)
    }

    private static func same(_ a: UnsafeMutableBufferPointer<UInt8>, _ i: Int, _ b: UnsafeBufferPointer<UInt8>, _ j: Int, _ n: Int) -> Bool {
        for p in 0..<n where a[i + p] != b[j + p] { return false }
        return true
    }
}
