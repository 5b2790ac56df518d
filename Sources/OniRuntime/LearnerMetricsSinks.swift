import OniStorage
import OniTelemetry
import OniTransport
import OniWire

/// Snapshots published on the learner's metrics PUB socket (`oni metrics --follow`); never waits
/// for subscribers, so a slow or absent one costs nothing.
final class MetricsPublisher: MetricsSink {
    let name = "metrics PUB socket"
    private let socket: MessageChannel

    init(_ socket: MessageChannel) { self.socket = socket }

    func write(_ snapshot: Oni_V1_Metrics) throws {
        _ = try socket.send(.metrics(snapshot), dontWait: true)
    }
}

/// Snapshots into the run store's metrics table, through its background writer.
final class StoreMetricsSink: MetricsSink {
    let name = "run store"
    private let writer: StoreWriter

    init(_ writer: StoreWriter) { self.writer = writer }

    func write(_ snapshot: Oni_V1_Metrics) throws {
        writer.submit(.metrics(unixMilliseconds: snapshot.unixMs, envSteps: snapshot.envSteps, values: snapshot.values))
    }
}
