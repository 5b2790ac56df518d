import Foundation
import OniTelemetry
import OniWire
import Testing

/// One snapshot to every sink, in process: written in order, failures counted, a sink marked
/// to be dropped dropped after its first failure, the others never missing a snapshot.
@Suite struct MetricsFanOutTests {
    final class MemorySink: MetricsSink {
        let name: String
        var received: [UInt64] = []
        var failing = false
        init(_ name: String) { self.name = name }
        func write(_ snapshot: Oni_V1_Metrics) throws {
            if failing { throw CocoaError(.fileWriteUnknown) }
            received.append(snapshot.envSteps)
        }
    }

    static func snapshot(_ steps: UInt64) -> Oni_V1_Metrics {
        var m = Oni_V1_Metrics()
        m.envSteps = steps
        m.values = ["env/steps": Double(steps)]
        return m
    }

    @Test func everySinkGetsEverySnapshotDespiteFailures() {
        var reported: [(String, Bool)] = []
        let fanOut = MetricsFanOut { sink, _, dropped in reported.append((sink.name, dropped)) }
        let store = MemorySink("store"), flaky = MemorySink("flaky"), board = MemorySink("board")
        fanOut.add(store)
        fanOut.add(flaky)
        fanOut.add(board, dropOnFailure: true)
        #expect(fanOut.names == ["store", "flaky", "board"])
        fanOut.write(Self.snapshot(1))
        flaky.failing = true
        board.failing = true
        fanOut.write(Self.snapshot(2))
        flaky.failing = false
        board.failing = false
        fanOut.write(Self.snapshot(3))
        #expect(store.received == [1, 2, 3])
        #expect(flaky.received == [1, 3], "kept after a failure")
        #expect(board.received == [1], "dropped after its first failure")
        #expect(fanOut.names == ["store", "flaky"])
        #expect(fanOut.failures == ["flaky": 1, "board": 1])
        #expect(reported.map(\.0) == ["flaky", "board"] && reported.map(\.1) == [false, true])
    }

    /// The JSONL sink through the protocol: what it writes reads back.
    @Test func theJSONLinesSinkIsASink() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("oni-fanout-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fanOut = MetricsFanOut { _, error, _ in Issue.record("\(error)") }
        fanOut.add(try JSONLinesMetricsSink(path: path))
        fanOut.write(Self.snapshot(42))
        let line = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
        #expect(JSONLinesMetricsSink.parse(line)?.envSteps == 42)
    }
}
