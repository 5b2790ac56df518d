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
            learner's env steps, one line per run, named by its directory. \
            Example: oni plot runs/s1 runs/s2 runs/s3 --metric env/success_rate --output keyroom.svg
            """)

    @Argument(help: "Run directories.") var runDirs: [String]
    @Option(help: "The metric to draw.") var metric = "env/episode_return"
    @Option(help: "The SVG file to write.") var output = "curve.svg"
    @Option(help: "Title (default: the metric).") var title: String?

    func validate() throws {
        guard !runDirs.isEmpty else { throw ValidationError("give at least one run directory") }
        guard output.hasSuffix(".svg") else { throw ValidationError("--output must name an .svg file") }
    }

    func run() throws {
        var series: [SVGPlot.Series] = []
        for dir in runDirs {
            let path = URL(fileURLWithPath: dir).appendingPathComponent(RunStore.fileName).path
            guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("\(path) does not exist") }
            let store = try RunStore(path: path, readOnly: true)
            defer { store.close() }
            let points = try store.metrics(names: [metric], limit: 1_000_000).map { (x: Double($0.envSteps), y: $0.value) }
            if points.isEmpty { Console.line("oni plot: \(dir) has no \(metric) values") }
            series.append(SVGPlot.Series(name: dir, points: points))  // as given: unique, and what the reader typed
        }
        guard series.contains(where: { !$0.points.isEmpty }) else {
            Console.line("oni plot: no run has \(metric); nothing drawn")
            throw ExitCode.failure
        }
        let plot = SVGPlot(title: title ?? metric, xLabel: "environment steps", yLabel: metric, series: series)
        try plot.render().write(toFile: output, atomically: true, encoding: .utf8)
        Console.line("oni plot: wrote \(output) (\(series.map { "\($0.name): \($0.points.count) points" }.joined(separator: ", ")))")
    }
}
