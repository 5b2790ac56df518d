/// The last `capacity` values of a series, for means over recent episodes.
public struct RollingWindow: Sendable {
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
}
