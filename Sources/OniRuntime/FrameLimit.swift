import OniWire

/// Checks a `--max-frame-bytes` value.
public enum FrameLimit {
    /// Smallest and largest accepted limits: 4 KiB to 1 GiB.
    public static let range = 4096...(1 << 30)

    public static func validate(_ bytes: Int) throws(RuntimeError) {
        guard range.contains(bytes) else {
            throw .invalidConfiguration("--max-frame-bytes must be between \(range.lowerBound) and \(range.upperBound), got \(bytes)")
        }
    }
}
