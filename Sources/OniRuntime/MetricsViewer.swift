import Foundation
import Logging
import OniStorage
import OniTelemetry
import OniTransport
import OniWire

/// What `oni metrics` does: show snapshots live from a learner's PUB socket,
/// from a growing metrics.jsonl, or from a run's store.
public struct MetricsViewer {
    /// A problem with the source the user named.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public var json: Bool
    /// Stop after this many snapshots (0 = never).
    public var maxSnapshots: Int
    public let stop: StopSignal
    public let output: (String) -> Void
    /// Also hands every snapshot to this sink (`--prometheus`).
    public var sink: (any MetricsSink)?

    public init(json: Bool, maxSnapshots: Int, stop: StopSignal, output: @escaping (String) -> Void) {
        self.json = json
        self.maxSnapshots = maxSnapshots
        self.stop = stop
        self.output = output
    }

    private var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    private func show(_ metrics: Oni_V1_Metrics) {
        try? sink?.write(metrics)
        if json {
            output(JSONLinesMetricsSink.line(metrics))
        } else if isTerminal {
            output("\u{1B}[H\u{1B}[2J" + MetricsTable.render(metrics))
        } else {
            output(MetricsTable.render(metrics) + "\n")
        }
    }

    /// Tails a learner's metrics socket until stopped. ZeroMQ reconnects by
    /// itself when the learner restarts; a notice is printed while it is silent.
    public func followSocket(_ endpoint: String, curve: CurveSettings? = nil, logger: Logger) throws {
        let context = try RoleMain.makeContext(curve: curve, logger: logger)
        let socket = try MessageChannel(transport: context, type: .sub, .connect(endpoint), name: "metrics", accepts: [.metrics], logger: logger)
        defer { socket.close() }
        var shown = 0
        var lastSeen = Date()
        var warned = false
        if !json { output("waiting for metrics from \(endpoint) …") }
        while !stop.isStopped {
            if case let .metrics(metrics)? = try socket.receive(timeoutMilliseconds: 250) {
                show(metrics)
                lastSeen = Date()
                warned = false
                shown += 1
                if maxSnapshots > 0 && shown >= maxSnapshots { return }
            } else if !warned && Date().timeIntervalSince(lastSeen) > 5 {
                if !json { output("no metrics from \(endpoint) for 5 s; waiting for the learner …") }
                warned = true
            }
        }
    }

    /// Tails RUN_DIR/metrics.jsonl as the learner appends to it.
    public func followFile(runDirectory: String) throws {
        let path = URL(fileURLWithPath: runDirectory).appendingPathComponent("metrics.jsonl").path
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Failure(description: "no metrics at \(path): is \(runDirectory) a run directory?")
        }
        defer { try? handle.close() }
        var pending = Data()
        var shown = 0
        while !stop.isStopped {
            let chunk = handle.availableData
            if chunk.isEmpty {
                Thread.sleep(forTimeInterval: 0.25)
                continue
            }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[pending.startIndex..<newline]
                pending = Data(pending[(newline + 1)...])
                guard let metrics = JSONLinesMetricsSink.parse(String(decoding: line, as: UTF8.self)) else { continue }
                show(metrics)
                shown += 1
                if maxSnapshots > 0 && shown >= maxSnapshots { return }
            }
        }
    }

    /// Prints the last `last` stored snapshots of a run (one line each), then the newest in full.
    public func printStored(runDirectory: String, last: Int) throws {
        let path = URL(fileURLWithPath: runDirectory).appendingPathComponent(RunStore.fileName).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure(description: "no store at \(path): is \(runDirectory) a run directory?")
        }
        let store = try RunStore(path: path, readOnly: true)
        let snapshots = try store.metricSnapshots(last: last)
        guard let newest = snapshots.last else {
            output("no metrics stored yet in \(runDirectory)")
            return
        }
        for snapshot in snapshots {
            let m = snapshot.wire
            if json {
                output(JSONLinesMetricsSink.line(m))
            } else {
                let time = Date(timeIntervalSince1970: Double(snapshot.unixMilliseconds) / 1000)
                output(ISO8601DateFormatter().string(from: time) + "  " + MetricsTable.progressLine(m))
            }
        }
        if !json { output("\nlatest:\n" + MetricsTable.render(newest.wire)) }
    }
}

extension RunStore.MetricSnapshot {
    /// The snapshot as the Metrics message the learner published.
    var wire: Oni_V1_Metrics {
        var m = Oni_V1_Metrics()
        m.unixMs = unixMilliseconds
        m.envSteps = envSteps
        m.values = values
        return m
    }
}
