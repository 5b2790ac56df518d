import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import OniRuntime
import OniTestSupport
import Testing

/// A live learner scraped as Prometheus scrapes it, the text parsed by Prometheus' own Python
/// client, and every metric the Grafana dashboard draws found in the scrape.
@Suite struct PrometheusTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func fetch(_ url: URL) throws -> (status: Int, body: String) {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, String)?
        let task = URLSession.shared.dataTask(with: url) { data, response, _ in
            result = ((response as? HTTPURLResponse)?.statusCode ?? 0, data.map { String(decoding: $0, as: UTF8.self) } ?? "")
            done.signal()
        }
        task.resume()
        _ = done.wait(timeout: .now() + 10)
        return try #require(result)
    }

    @Test func aLiveLearnerIsScrapedAndTheDashboardFindsItsMetrics() throws {
        let sockets = RolesOverSocketsTests()
        let llm = try FakeLLMServer(responder: RolesOverSocketsTests.judge)
        defer { llm.stop() }
        let ports = RolesOverSocketsTests.Ports()
        let run = sockets.temporaryRun()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let learner = try sockets.learner(ports, runDirectory: run, annotate: true, extra: ["--prometheus-bind", "127.0.0.1:0", "--batch-size", "256"])
        let annotator = try sockets.annotator(ports, llm: llm, run: run)
        let worker = try sockets.worker(ports)
        defer {
            _ = worker.stop()
            _ = annotator.stop()
            _ = learner.stop()
        }
        let endpoint = try #require(eventually(seconds: 30) { RunEndpoints.read(in: URL(fileURLWithPath: run))?.prometheus != nil }
            ? RunEndpoints.read(in: URL(fileURLWithPath: run))?.prometheus : nil)
        let url = try #require(URL(string: endpoint))
        let dashboard = try String(contentsOf: Self.repository.appendingPathComponent("deploy/grafana/oni-dashboard.json"), encoding: .utf8)
        let regex = try NSRegularExpression(pattern: "oni_[a-z0-9_]+")
        let drawn = Set(regex.matches(in: dashboard, range: NSRange(dashboard.startIndex..., in: dashboard)).map { String(dashboard[Range($0.range, in: dashboard)!]) })
        #expect(drawn.count >= 15)
        // Wait for updates, episodes, labels and annotation round trips: then every drawn metric has a value.
        #expect(eventually(seconds: 90) { let body = (try? fetch(url))?.body ?? ""; return drawn.allSatisfy { body.contains($0 + "{") } })
        let scrape = try fetch(url)
        #expect(scrape.status == 200)
        #expect(try fetch(URL(string: endpoint.replacingOccurrences(of: "/metrics", with: "/nothing"))!).status == 404)

        // Prometheus' own parser reads it; every sample carries the run label.
        let python = Process()
        python.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["ONI_TEST_PYTHON"] ?? "/usr/bin/python3")
        python.arguments = ["-c", """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            names = set()
            for family in text_string_to_metric_families(sys.stdin.read()):
                for sample in family.samples:
                    assert "run" in sample.labels, sample
                    names.add(sample.name)
            print("\\n".join(sorted(names)))
            """]
        let input = Pipe(), output = Pipe()
        python.standardInput = input
        python.standardOutput = output
        try python.run()
        input.fileHandleForWriting.write(Data(scrape.body.utf8))
        try input.fileHandleForWriting.close()
        let parsed = Set(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").map(String.init))
        python.waitUntilExit()
        try #require(python.terminationStatus == 0, "the prometheus_client package is needed in ONI_TEST_PYTHON's environment (bash deploy/test.sh installs it)")
        #expect(parsed.contains("oni_env_fps") && parsed.contains("oni_learner_policy_version"), "\(parsed.sorted())")

        #expect(drawn.subtracting(parsed).isEmpty, "the dashboard draws metrics the learner does not serve: \(drawn.subtracting(parsed).sorted())")
    }
}
