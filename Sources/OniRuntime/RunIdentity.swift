import Foundation

/// Which run a process belongs to, and where a run's sockets are.
///
/// A run's id is made when its learner first starts and kept in `RUN_DIR/run-id`, so that a
/// resumed run keeps it. Workers and annotators started for a run are given it (`--run-id`);
/// the learner refuses live rollouts from another run, and workers ignore another run's params,
/// so two runs on one machine never feed each other even if their ports cross.
public enum RunIdentity {
    public static func file(in runDirectory: URL) -> URL { runDirectory.appendingPathComponent("run-id") }

    /// The id saved in `runDirectory`, if there is one.
    public static func saved(in runDirectory: URL) -> String? {
        guard let text = try? String(contentsOf: file(in: runDirectory), encoding: .utf8) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? nil : id
    }

    /// A new id: the directory's name and 48 random bits.
    public static func make(for runDirectory: URL) -> String {
        let random = (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return "\(runDirectory.lastPathComponent)-\(random)"
    }

    public static func save(_ id: String, in runDirectory: URL) throws {
        try Data((id + "\n").utf8).write(to: file(in: runDirectory), options: .atomic)
    }
}

/// The endpoints a learner actually bound (a port chosen by the system included), written to
/// `RUN_DIR/endpoints.json` once it listens, for `oni run`, `oni metrics RUN_DIR` and
/// `oni health learner --endpoint RUN_DIR` to find.
public struct RunEndpoints: Codable, Sendable, Equatable {
    public var runID: String
    public var experience: String
    public var params: String
    public var metrics: String
    public var control: String
    /// The annotator the learner asks, if any.
    public var annotator: String?
    /// Where Prometheus scrapes the learner (`http://HOST:PORT/metrics`), if it serves it.
    public var prometheus: String?

    public init(runID: String, experience: String, params: String, metrics: String, control: String, annotator: String?, prometheus: String? = nil) {
        self.runID = runID
        self.experience = experience
        self.params = params
        self.metrics = metrics
        self.control = control
        self.annotator = annotator
        self.prometheus = prometheus
    }

    public static func file(in runDirectory: URL) -> URL { runDirectory.appendingPathComponent("endpoints.json") }

    /// A bound endpoint others can connect to: `tcp://0.0.0.0:P` (a wildcard bind) becomes `tcp://127.0.0.1:P`.
    public static func connectable(_ bound: String) -> String {
        bound.replacingOccurrences(of: "tcp://0.0.0.0:", with: "tcp://127.0.0.1:")
    }

    public func write(in runDirectory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: Self.file(in: runDirectory), options: .atomic)
    }

    public static func read(in runDirectory: URL) -> RunEndpoints? {
        guard let data = try? Data(contentsOf: file(in: runDirectory)) else { return nil }
        return try? JSONDecoder().decode(RunEndpoints.self, from: data)
    }
}
