import Foundation
import OniWire

/// Renders metrics snapshots for people: a compact table for
/// `oni metrics --follow` and a one-line progress summary for `oni run`.
public enum MetricsTable {
    /// The headline metrics, in display order, with their labels.
    public static let headline: [(name: String, label: String)] = [
        ("env/steps", "env steps"),
        ("env/fps", "env FPS"),
        ("env/episodes", "episodes"),
        ("env/episode_return", "return (last 100)"),
        ("env/episode_length", "length (last 100)"),
        ("env/success_rate", "success (last 100)"),
        ("messages/distinct", "distinct messages"),
        ("messages/labelled", "labelled"),
        ("messages/positive", "labelled progress"),
        ("annotation/pending", "pending annotations"),
        ("annotation/waiting", "queued annotations"),
        ("workers/live", "live workers"),
        ("learner/rollouts", "rollouts"),
        ("learner/frames_refused", "frames refused"),
        ("store/pending", "store queue"),
    ]

    /// A two-column table of every metric, headline first, then the rest by name.
    public static func render(_ metrics: Oni_V1_Metrics) -> String {
        var rows: [(String, String)] = []
        var shown = Set<String>()
        for (name, label) in headline {
            if let value = metrics.values[name] {
                rows.append((label, format(value)))
                shown.insert(name)
            }
        }
        for name in metrics.values.keys.sorted() where !shown.contains(name) {
            rows.append((name, format(metrics.values[name]!)))
        }
        let width = rows.map(\.0.count).max() ?? 0
        var lines = rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
        lines.append("workers".padding(toLength: width, withPad: " ", startingAt: 0) + "  " + (metrics.liveWorkers.isEmpty ? "-" : metrics.liveWorkers.joined(separator: " ")))
        return lines.joined(separator: "\n")
    }

    /// One line: steps, FPS, episodes, return, messages and labels (and judged pairs with the
    /// ranking reward), workers.
    public static func progressLine(_ metrics: Oni_V1_Metrics) -> String {
        let v = metrics.values
        func f(_ name: String) -> String { v[name].map(format) ?? "-" }
        let pairs = v["pairs/total"] == nil ? "" : "  pairs judged \(f("pairs/judged"))/\(f("pairs/total"))"
        return "steps \(f("env/steps"))  fps \(f("env/fps"))  episodes \(f("env/episodes"))  return \(f("env/episode_return"))"
            + "  success \(f("env/success_rate"))  messages \(f("messages/distinct"))  labelled \(f("messages/labelled"))\(pairs)"
            + "  pending \(f("annotation/pending"))  workers \(f("workers/live"))"
    }

    /// Integers plainly, large numbers with k/M suffixes, fractions with 3 significant digits.
    public static func format(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        let magnitude = abs(value)
        if value == value.rounded() {
            if magnitude >= 10_000_000 { return String(format: "%.1fM", value / 1_000_000) }
            if magnitude >= 100_000 { return String(format: "%.0fk", value / 1000) }
            return String(Int64(value))
        }
        if magnitude >= 1000 { return String(format: "%.0f", value) }
        if magnitude >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.3f", value)
    }
}
