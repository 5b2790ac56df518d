/// The last `capacity` values of a series, for means and percentiles over recent
/// episodes, updates or requests.
public struct RollingWindow: Sendable, Equatable {
    private var values: [Double] = []
    private var next = 0
    public let capacity: Int

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public mutating func append(_ value: Double) {
        if values.count < capacity {
            values.append(value)
        } else {
            values[next] = value
            next = (next + 1) % capacity
        }
    }

    public var count: Int { values.count }
    /// Mean of the window, nil when empty.
    public var mean: Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }

    /// The `p`-th percentile (0...100) of the window by nearest rank, nil when empty.
    public func percentile(_ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((min(max(p, 0), 100) / 100 * Double(sorted.count)).rounded(.up))
        return sorted[max(rank, 1) - 1]
    }
}
