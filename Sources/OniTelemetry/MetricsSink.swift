import OniWire

/// Somewhere a metrics snapshot goes: a file, a socket, a store, TensorBoard.
public protocol MetricsSink: AnyObject {
    /// Names the sink in logs.
    var name: String { get }
    /// Takes one snapshot; throws if it could not be written.
    func write(_ snapshot: Oni_V1_Metrics) throws
}

extension JSONLinesMetricsSink: MetricsSink {
    public var name: String { "metrics.jsonl" }
}

extension TensorBoardWriter: MetricsSink {
    public var name: String { "TensorBoard" }
    public func write(_ snapshot: Oni_V1_Metrics) throws {
        try write(step: Int64(snapshot.envSteps), values: snapshot.values)
    }
}

/// Hands every snapshot to each of its sinks in order. A sink that fails is reported through
/// `failed` and kept, unless it is marked to be dropped after its first failure (TensorBoard:
/// one broken event file would fail every write after it); the others always get the snapshot.
public final class MetricsFanOut {
    private var sinks: [(sink: any MetricsSink, dropOnFailure: Bool)] = []
    /// Called with the sink and the error of each failed write, and whether the sink was dropped.
    private let failed: (any MetricsSink, any Error, Bool) -> Void
    /// Failed writes so far, per sink name.
    public private(set) var failures: [String: Int] = [:]

    public init(failed: @escaping (any MetricsSink, any Error, Bool) -> Void) {
        self.failed = failed
    }

    public func add(_ sink: any MetricsSink, dropOnFailure: Bool = false) {
        sinks.append((sink, dropOnFailure))
    }

    /// The sinks' names, in the order they are written.
    public var names: [String] { sinks.map(\.sink.name) }

    public func write(_ snapshot: Oni_V1_Metrics) {
        var kept: [(sink: any MetricsSink, dropOnFailure: Bool)] = []
        for entry in sinks {
            do {
                try entry.sink.write(snapshot)
                kept.append(entry)
            } catch {
                failures[entry.sink.name, default: 0] += 1
                failed(entry.sink, error, entry.dropOnFailure)
                if !entry.dropOnFailure { kept.append(entry) }
            }
        }
        sinks = kept
    }
}
