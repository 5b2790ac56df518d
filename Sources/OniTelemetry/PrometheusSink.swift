import CoreMetrics
import Foundation
import OniWire
import Prometheus

/// The learner's metrics for Prometheus: every value of each snapshot becomes a gauge through
/// swift-metrics, backed by swift-prometheus' registry, which writes the text exposition format.
/// Names: `oni_` and the metric's name with every character Prometheus does not allow made `_`
/// (`learner/fps` → `oni_learner_fps`, `annotator/llm_latency_ms_p95` → `oni_annotator_llm_latency_ms_p95`);
/// every series carries the run's id as the label `run`.
public final class PrometheusSink: MetricsSink, @unchecked Sendable {
    public var name: String { "Prometheus" }
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let dimensions: [(String, String)]
    private let lock = NSLock()
    private var gauges: [String: CoreMetrics.Gauge] = [:]

    public init(runID: String) {
        factory = PrometheusMetricsFactory(registry: registry)
        dimensions = [("run", runID)]
    }

    /// The Prometheus name of an Oni metric.
    public static func metricName(_ name: String) -> String {
        let allowed = name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" }
        return "oni_" + String(allowed)
    }

    public func write(_ snapshot: Oni_V1_Metrics) throws {
        lock.withLock {
            for (key, value) in snapshot.values where value.isFinite { gauge(key).record(value) }
        }
    }

    /// The text exposition of the current values, as `/metrics` serves it.
    public func exposition() -> String { registry.emitToString() }

    private func gauge(_ key: String) -> CoreMetrics.Gauge {
        if let known = gauges[key] { return known }
        let made = CoreMetrics.Gauge(label: Self.metricName(key), dimensions: dimensions, factory: factory)
        gauges[key] = made
        return made
    }
}
