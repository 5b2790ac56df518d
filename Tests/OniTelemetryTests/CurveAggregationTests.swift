import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import OniTelemetry
import Testing

@Suite struct CurveAggregationTests {
    /// Two hand-made runs: the mean and its band at points worked out by hand.
    @Test func theMeanOfTwoRunsWithItsBand() throws {
        let a: [(x: Double, y: Double)] = [(0, 0), (100, 1)]  // y = x / 100
        let b: [(x: Double, y: Double)] = [(0, 1), (50, 1), (120, 3)]  // flat, then rising
        let stderr = try #require(CurveAggregation.aggregate([a, b], points: 3, band: .stderr))
        // The range both cover: 0…100; at 50: a = 0.5, b = 1.
        #expect(stderr.x == [0, 50, 100])
        #expect(stderr.mean[1] == 0.75)
        // Two values: s.e. = |a − b| / 2.
        #expect(abs(stderr.low[1] - 0.5) < 1e-12 && abs(stderr.high[1] - 1.0) < 1e-12)
        // At 100: a = 1, b = 1 + 2·50/70.
        let b100 = 1 + 2 * 50.0 / 70
        #expect(abs(stderr.mean[2] - (1 + b100) / 2) < 1e-12)
        let minmax = try #require(CurveAggregation.aggregate([a, b], points: 3, band: .minmax))
        #expect(minmax.low == [0, 0.5, 1] && abs(minmax.high[2] - b100) < 1e-12)
        #expect(CurveAggregation.aggregate([a, [(200, 1), (300, 2)]], band: .stderr) == nil)  // no common stretch
    }

    @Test func smoothingAveragesNeighbours() {
        #expect(CurveAggregation.smooth([0, 3, 6, 9], window: 3) == [1.5, 3, 6, 7.5])
        #expect(CurveAggregation.smooth([1, 2], window: 1) == [1, 2])
    }

    @Test func runsAreNamedByTheShortestEndThatTellsThemApart() {
        #expect(CurveAggregation.distinctNames(["runs/vault/seed1", "runs/keyroom/seed1", "/tmp/x/seed2"]) == ["vault/seed1", "keyroom/seed1", "seed2"])
        #expect(CurveAggregation.distinctNames(["a", "b/"]) == ["a", "b"])
    }

    /// Three long run paths: the legend stays inside the picture, and the band is drawn.
    @Test func theLegendStaysInsideThePicture() throws {
        let long = String(repeating: "very-long-experiment-name-", count: 6)
        let plot = SVGPlot(
            title: "t", xLabel: "x", yLabel: "y",
            series: (0..<3).map { i in
                .init(name: "/data/\(long)\(i)", points: [(0, 0), (1, Double(i))], band: [(0, -0.1, 0.1), (1, Double(i) - 0.1, Double(i) + 0.1)])
            })
        let svg = plot.render()
        let document = try XMLDocument(data: Data(svg.utf8))
        #expect(try document.nodes(forXPath: "//*[local-name()='polygon']").count == 3)
        // The legend's box: <rect class="legend" x="…" y="…" width="…" …>.
        let box = try #require(svg.components(separatedBy: "<rect class=\"legend\" ").dropFirst().first)
        func attribute(_ name: String) throws -> Double {
            let value = try #require(box.components(separatedBy: " \(name)=\"").dropFirst().first ?? (box.hasPrefix("\(name)=\"") ? String(box.dropFirst(name.count + 2)) : nil))
            return try #require(Double(value.prefix { $0 != "\"" }))
        }
        let x = try attribute("x"), width = try attribute("width")
        #expect(x + width <= plot.width, "legend from \(x) to \(x + width), picture \(plot.width) wide")
        #expect(svg.contains("…") && svg.contains("name-2<"))
    }
}
