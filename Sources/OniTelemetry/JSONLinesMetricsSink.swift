import Foundation
import OniWire

/// Appends each metrics snapshot as one JSON object per line to a file
/// (`RUN_DIR/metrics.jsonl`): `{"unix_ms":…,"env_steps":…,"values":{…}}`.
public final class JSONLinesMetricsSink {
    private let handle: FileHandle
    public let path: String

    public init(path: String) throws {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    public func write(_ metrics: Oni_V1_Metrics) throws {
        try handle.write(contentsOf: Data((Self.line(metrics) + "\n").utf8))
    }

    /// The JSON line for one snapshot, keys sorted.
    public static func line(_ metrics: Oni_V1_Metrics) -> String {
        let values = metrics.values.keys.sorted().map { key -> String in
            "\(quote(key)):\(number(metrics.values[key]!))"
        }
        let workers = metrics.liveWorkers.map(quote).joined(separator: ",")
        return "{\"unix_ms\":\(metrics.unixMs),\"env_steps\":\(metrics.envSteps),\"values\":{\(values.joined(separator: ","))},\"live_workers\":[\(workers)]}"
    }

    /// Reads back one line written by `line(_:)`; nil if it is not one.
    public static func parse(_ line: String) -> Oni_V1_Metrics? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let unixMs = (object["unix_ms"] as? NSNumber)?.int64Value,
              let envSteps = (object["env_steps"] as? NSNumber)?.uint64Value,
              let values = object["values"] as? [String: Any]
        else { return nil }
        var metrics = Oni_V1_Metrics()
        metrics.unixMs = unixMs
        metrics.envSteps = envSteps
        for (key, value) in values {
            if let number = value as? NSNumber { metrics.values[key] = number.doubleValue }
        }
        metrics.liveWorkers = object["live_workers"] as? [String] ?? []
        return metrics
    }

    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
