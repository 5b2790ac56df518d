import ArgumentParser
import Foundation
import OniStorage
import OniTelemetry

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw a learning curve of one metric for one or more runs, as an SVG file.",
        discussion: """
            Reads each run's stored metrics (RUN_DIR/oni.sqlite) and draws the metric against the \
            learner's env steps (or hours of wall clock), one line per run, named by the shortest \
            end of its path that tells it from the others. --mean draws the runs given as one \
            curve, their mean with a band (--band stderr or minmax); --group NAME=DIR,DIR,… makes \
            one such curve per group (three seeds of each setting). --smooth K averages K points. \
            Any stored metric can be drawn, eval/return (--eval-every) included; a run evaluated \
            by `oni evaluate` gives eval/return, eval/success, eval/length, eval/score … from its \
            evaluations, by the env steps each checkpoint was trained on. \
            Example: oni plot --group retrieval=runs/r1,runs/r2,runs/r3 --group none=runs/n1,runs/n2,runs/n3 \
            --metric env/success_rate --output vault.svg
            """)

    @Argument(help: "Run directories (each its own line, or one curve with --mean).") var runDirs: [String] = []
    @Option(help: ArgumentHelp("A curve averaged over runs (repeatable).", valueName: "name=dir,dir,…")) var group: [String] = []
    @Flag(help: "Draw the run directories given as one curve: their mean with a band.") var mean = false
    @Option(help: "The band around a mean: stderr, minmax or none.") var band = "stderr"
    @Option(help: "Average this many neighbouring points (1 = none).") var smooth = 1
    @Option(help: "The horizontal axis: env-steps or hours (wall clock since the run's first snapshot).") var x = "env-steps"
    @Option(help: "The metric to draw.") var metric = "env/episode_return"
    @Option(help: "The SVG file to write.") var output = "curve.svg"
    @Option(help: "Title (default: the metric).") var title: String?

    func validate() throws {
        guard !runDirs.isEmpty || !group.isEmpty else { throw ValidationError("give at least one run directory or --group") }
        guard output.hasSuffix(".svg") else { throw ValidationError("--output must name an .svg file") }
        guard CurveAggregation.Band(rawValue: band) != nil else { throw ValidationError("--band must be stderr, minmax or none") }
        guard ["env-steps", "hours"].contains(x) else { throw ValidationError("--x must be env-steps or hours") }
        guard smooth >= 1 else { throw ValidationError("--smooth must be at least 1") }
        for g in group where !g.contains("=") { throw ValidationError("--group takes NAME=DIR,DIR,…, got '\(g)'") }
    }

    func run() throws {
        var curves: [(name: String, runs: [String])] = group.map { g in
            let parts = g.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], parts[1].split(separator: ",").map(String.init))
        }
        if mean {
            curves.append(("mean of \(runDirs.count) runs", runDirs))
        } else {
            let names = CurveAggregation.distinctNames(runDirs)
            curves += zip(names, runDirs).map { ($0, [$1]) }
        }
        var series: [SVGPlot.Series] = []
        for curve in curves {
            let runs = try curve.runs.map { try points(of: $0) }
            if runs.count == 1 {
                let ys = CurveAggregation.smooth(runs[0].map(\.y), window: smooth)
                series.append(SVGPlot.Series(name: curve.name, points: zip(runs[0], ys).map { ($0.x, $1) }))
            } else if let aggregate = CurveAggregation.aggregate(runs, band: CurveAggregation.Band(rawValue: band)!) {
                let (ys, lows, highs) = (
                    CurveAggregation.smooth(aggregate.mean, window: smooth), CurveAggregation.smooth(aggregate.low, window: smooth),
                    CurveAggregation.smooth(aggregate.high, window: smooth))
                series.append(
                    SVGPlot.Series(
                        name: "\(curve.name) (\(runs.count) runs)", points: zip(aggregate.x, ys).map { ($0, $1) },
                        band: band == "none" ? [] : aggregate.x.indices.map { (aggregate.x[$0], lows[$0], highs[$0]) }))
            } else {
                Console.line("oni plot: the runs of \(curve.name) share no stretch of \(x) with \(metric); left out")
            }
        }
        guard series.contains(where: { !$0.points.isEmpty }) else {
            Console.line("oni plot: no run has \(metric); nothing drawn")
            throw ExitCode.failure
        }
        let plot = SVGPlot(title: title ?? metric, xLabel: x == "hours" ? "hours" : "environment steps", yLabel: metric, series: series)
        try plot.render().write(toFile: output, atomically: true, encoding: .utf8)
        Console.line("oni plot: wrote \(output) (\(series.map { "\($0.name): \($0.points.count) points" }.joined(separator: ", ")))")
    }

    /// One run's values of the metric against the chosen axis.
    private func points(of dir: String) throws -> [(x: Double, y: Double)] {
        let path = URL(fileURLWithPath: dir).appendingPathComponent(RunStore.fileName).path
        guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("\(path) does not exist") }
        let store = try RunStore(path: path, readOnly: true)
        defer { store.close() }
        let rows = try store.metrics(names: [metric], limit: 1_000_000)
        if rows.isEmpty, let evaluated = try evaluationPoints(store) { return evaluated }
        if rows.isEmpty { Console.line("oni plot: \(dir) has no \(metric) values") }
        let start = rows.first?.unixMilliseconds ?? 0
        return rows.map { (x: x == "hours" ? Double($0.unixMilliseconds - start) / 3_600_000 : Double($0.envSteps), y: $0.value) }
    }

    /// `eval/…` of a run evaluated by `oni evaluate` (its `evaluations` table) rather than during
    /// training: return, return_se, success, length and the environment's figures, by the env
    /// steps each checkpoint was trained on. Nil when the metric is not one of those or there are none.
    private func evaluationPoints(_ store: RunStore) throws -> [(x: Double, y: Double)]? {
        guard metric.hasPrefix("eval/"), x == "env-steps" else { return nil }
        let name = String(metric.dropFirst(5))
        let records = try store.evaluations().sorted { $0.trainedEnvSteps < $1.trainedEnvSteps }
        let points = records.compactMap { record -> (x: Double, y: Double)? in
            let value: Double?
            switch name {
            case "return": value = record.meanReturn
            case "return_se": value = record.standardErrorReturn
            case "success": value = record.successRate
            case "length": value = record.meanLength
            default: value = record.statistics[name]
            }
            return value.map { (Double(record.trainedEnvSteps), $0) }
        }
        return points.isEmpty ? nil : points
    }
}
