import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import OniTelemetry
import Testing

@Suite struct SVGPlotTests {
    @Test func drawsEverySeriesWithItsPointsAndEscapesText() throws {
        let plot = SVGPlot(
            title: "success <keyroom> & co", xLabel: "environment steps", yLabel: "env/success_rate",
            series: [
                .init(name: "runs/a", points: [(0, 0), (500_000, 0.5), (1_000_000, 1)]),
                .init(name: "runs/b", points: [(0, 0.1), (1_000_000, .nan), (1_000_000, 0.7)]),
            ])
        let svg = plot.render()
        // Well-formed XML, one polyline per series, non-finite points left out.
        let document = try XMLDocument(data: Data(svg.utf8))
        let lines = try document.nodes(forXPath: "//*[local-name()='polyline']")
        #expect(lines.count == 2)
        let points = svg.components(separatedBy: "points=\"").dropFirst().map { $0.prefix { $0 != "\"" }.split(separator: " ").count }
        #expect(points == [3, 2])
        #expect(svg.contains("success &lt;keyroom&gt; &amp; co") && svg.contains(">1M<") && svg.contains(">runs/b<"))
    }

    @Test func anEmptyPlotIsStillADocument() throws {
        let svg = SVGPlot(title: "", xLabel: "", yLabel: "", series: []).render()
        _ = try XMLDocument(data: Data(svg.utf8))
    }
}
