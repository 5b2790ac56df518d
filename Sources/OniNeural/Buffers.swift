extension Array where Element: ExpressibleByIntegerLiteral {
    /// Makes the array hold `count` elements for a layer to write into, allocating only when it
    /// grows past the largest count it has held (the old contents stay, to be overwritten; new
    /// elements are zero). Layers keep such buffers between passes so that a steady-state update
    /// allocates no activation or gradient storage, even when its sizes vary from batch to batch
    /// (a message encoder's distinct messages); a buffer still referenced elsewhere is copied on
    /// write, as any array is.
    @inlinable
    public mutating func reuse(count: Int) {
        if count < self.count {
            removeLast(self.count - count)
        } else if count > self.count {
            append(contentsOf: repeatElement(0, count: count - self.count))
        }
    }

    /// Like `reuse(count:)`, and sets every element to zero (for buffers that are added into).
    @inlinable
    public mutating func reuseZeroed(count: Int) {
        reuse(count: count)
        withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
