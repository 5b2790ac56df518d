import ArgumentParser
import Foundation
import Logging
import OniRuntime
import OniTelemetry

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Show a learner's metrics: live from its socket, or stored in a run directory.",
        discussion: """
            oni metrics --follow tcp://HOST:5557   tail a running learner (reconnects when it restarts)
            oni metrics RUN_DIR                    the stored metrics of a run
            oni metrics --follow RUN_DIR           tail RUN_DIR/metrics.jsonl as it grows
            """)

    @Argument(help: "A learner's metrics endpoint (tcp://HOST:PORT) or a run directory.") var source: String
    @Flag(help: "Keep showing new snapshots until interrupted.") var follow = false
    @Flag(help: "Print one JSON object per snapshot instead of a table.") var json = false
    @Option(help: "Stored snapshots to print (RUN_DIR without --follow).") var last = 10
    @Option(help: "Stop after this many snapshots (0 = never).") var count = 0
    @Option(help: ArgumentHelp("Also serve the snapshots for Prometheus at http://ADDR/metrics (e.g. 0.0.0.0:9464).", valueName: "host:port"))
    var prometheus: String?
    @Option(help: ArgumentHelp(CurveSettings.help, valueName: "dir")) var curve: String?
    @Option(help: ArgumentHelp(CurveSettings.clientKeyHelp, valueName: "file")) var curveClientKey: String?

    func run() throws {
        _ = RoleLogging.bootstrap(level: "warning")
        let stop = StopSignal()
        let sources = stop.installSignalHandlers()
        defer { sources.forEach { $0.cancel() } }
        var viewer = MetricsViewer(json: json, maxSnapshots: count, stop: stop, output: Console.line)
        var server: MetricsHTTPServer?
        defer { server?.stop() }
        if let prometheus {
            let sink = PrometheusSink(runID: source)
            do { server = try MetricsHTTPServer(address: prometheus) { sink.exposition() } } catch { throw ValidationError("--prometheus: \(error)") }
            viewer.sink = sink
            FileHandle.standardError.write(Data("oni metrics: serving Prometheus at http://\(server!.host):\(server!.port)/metrics\n".utf8))
        }
        do {
            if source.hasPrefix("tcp://") || source.hasPrefix("ipc://") {
                try viewer.followSocket(
                    source, curve: .from(curve, clientKey: curveClientKey, binds: false, connects: true), logger: Logger(label: "oni.metrics"))
            } else if follow {
                try viewer.followFile(runDirectory: source)
            } else {
                try viewer.printStored(runDirectory: source, last: last)
            }
        } catch let error as MetricsViewer.Failure {
            throw ValidationError(error.description)
        }
    }
}
