extension Array where Element: ExpressibleByIntegerLiteral {
    /// Makes the array hold `count` elements for a layer to write into, allocating only when the
    /// count changes (then zeroed; on reuse the old contents stay, to be overwritten). Layers keep
    /// such buffers between passes so that a steady-state update allocates no activation or
    /// gradient storage; a buffer still referenced elsewhere is copied on write, as any array is.
    @inlinable
    public mutating func reuse(count: Int) {
        if self.count != count { self = [Element](repeating: 0, count: count) }
    }

    /// Like `reuse(count:)`, and sets every element to zero (for buffers that are added into).
    @inlinable
    public mutating func reuseZeroed(count: Int) {
        if self.count != count {
            self = [Element](repeating: 0, count: count)
        } else {
            withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
    }
}
