import Foundation

/// A line chart as a standalone SVG document: one polyline per series (with a shaded band when
/// it is a mean over runs), axes with rounded ticks, a legend inside the picture. Enough for
/// learning curves in papers and reviews.
public struct SVGPlot {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        /// A shaded band around the line (standard error, min–max), at the same x values; empty = none.
        public var band: [(x: Double, low: Double, high: Double)]

        public init(name: String, points: [(x: Double, y: Double)], band: [(x: Double, low: Double, high: Double)] = []) {
            self.name = name
            self.points = points
            self.band = band
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var width = 720.0, height = 440.0

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// Tick positions covering `low...high`: 1, 2 or 5 times a power of ten apart.
    static func ticks(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
        guard high > low else { return [low] }
        let raw = (high - low) / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var ticks: [Double] = []
        var t = ceil(low / step) * step
        while t <= high + step * 1e-9 {
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return ticks
    }

    static func label(_ value: Double) -> String {
        let a = abs(value)
        if a >= 1_000_000 { return String(format: "%gM", value / 1_000_000) }
        if a >= 10_000 { return String(format: "%gk", value / 1_000) }
        return String(format: "%g", value)
    }

    /// A generous width of one character of the 12-px sans-serif font, for fitting the legend.
    static let characterWidth = 7.2

    /// `name` cut from the left to `characters` (the end of a path tells runs apart).
    static func fitted(_ name: String, characters: Int) -> String {
        name.count <= characters ? name : "…" + name.suffix(max(characters - 1, 1))
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The SVG text.
    public func render() -> String {
        let all = (series.flatMap(\.points) + series.flatMap { $0.band.flatMap { [(x: $0.x, y: $0.low), (x: $0.x, y: $0.high)] } })
            .filter { $0.x.isFinite && $0.y.isFinite }
        let (left, right, top, bottom) = (70.0, 20.0, 40.0, 55.0)
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        var xs = (all.map(\.x).min() ?? 0, all.map(\.x).max() ?? 1)
        var ys = (all.map(\.y).min() ?? 0, all.map(\.y).max() ?? 1)
        // Curves of counts and rates read best from zero.
        if xs.0 > 0 { xs.0 = 0 }
        if ys.0 > 0 && ys.0 < ys.1 - ys.0 { ys.0 = 0 }
        if xs.1 <= xs.0 { xs.1 = xs.0 + 1 }
        if ys.1 <= ys.0 { ys = (ys.0 - 0.5, ys.1 + 0.5) }
        func px(_ x: Double) -> Double { left + (x - xs.0) / (xs.1 - xs.0) * plotWidth }
        func py(_ y: Double) -> Double { top + plotHeight - (y - ys.0) / (ys.1 - ys.0) * plotHeight }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="24" font-size="15">\(Self.escape(title))</text>

            """
        for t in Self.ticks(xs.0, xs.1) {
            svg += "<line x1=\"\(px(t))\" y1=\"\(top)\" x2=\"\(px(t))\" y2=\"\(top + plotHeight)\" stroke=\"#e6e6e6\"/>"
            svg += "<text x=\"\(px(t))\" y=\"\(top + plotHeight + 16)\" text-anchor=\"middle\">\(Self.label(t))</text>\n"
        }
        for t in Self.ticks(ys.0, ys.1) {
            svg += "<line x1=\"\(left)\" y1=\"\(py(t))\" x2=\"\(left + plotWidth)\" y2=\"\(py(t))\" stroke=\"#e6e6e6\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(py(t) + 4)\" text-anchor=\"end\">\(Self.label(t))</text>\n"
        }
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotWidth)\" height=\"\(plotHeight)\" fill=\"none\" stroke=\"#444\"/>\n"
        svg += "<text x=\"\(left + plotWidth / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        svg += "<text transform=\"translate(16 \(top + plotHeight / 2)) rotate(-90)\" text-anchor=\"middle\">\(Self.escape(yLabel))</text>\n"
        for (i, s) in series.enumerated() {
            let colour = Self.colours[i % Self.colours.count]
            let band = s.band.filter { $0.x.isFinite && $0.low.isFinite && $0.high.isFinite }
            if !band.isEmpty {
                let outline = band.map { String(format: "%.1f,%.1f", px($0.x), py($0.high)) } + band.reversed().map { String(format: "%.1f,%.1f", px($0.x), py($0.low)) }
                svg += "<polygon class=\"band\" fill=\"\(colour)\" fill-opacity=\"0.18\" stroke=\"none\" points=\"\(outline.joined(separator: " "))\"/>\n"
            }
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite }
                .map { String(format: "%.1f,%.1f", px($0.x), py($0.y)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.6\" points=\"\(points)\"/>\n"
        }
        // The legend inside the plot's top-left corner, on white, names cut to fit.
        let maxCharacters = Int((plotWidth - 60) / Self.characterWidth)
        let names = series.map { Self.fitted($0.name, characters: maxCharacters) }
        let legendWidth = 40 + Self.characterWidth * Double(names.map(\.count).max() ?? 0)
        svg += "<rect class=\"legend\" x=\"\(left + 8)\" y=\"\(top + 8)\" width=\"\(legendWidth)\" height=\"\(Double(names.count) * 18 + 8)\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n"
        for (i, name) in names.enumerated() {
            let colour = Self.colours[i % Self.colours.count]
            let y = top + 20 + Double(i) * 18
            svg += "<line x1=\"\(left + 14)\" y1=\"\(y)\" x2=\"\(left + 34)\" y2=\"\(y)\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(left + 38)\" y=\"\(y + 4)\">\(Self.escape(name))</text>\n"
        }
        return svg + "</svg>\n"
    }
}
