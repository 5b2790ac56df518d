import OniTelemetry
import OniWire
import Testing

@Suite struct MetricsTableTests {
    private func metrics(_ values: [String: Double]) -> Oni_V1_Metrics {
        var m = Oni_V1_Metrics()
        m.values = values
        return m
    }

    /// The progress line formats each figure, shows "-" for one not reported yet, and names
    /// judged pairs only when the learner has a pair table (the ranking reward).
    @Test func progressLineShowsPairsOnlyForRanking() {
        let base: [String: Double] = [
            "env/steps": 1_002_000, "env/fps": 908.69, "env/episodes": 10486, "env/success_rate": 0.42,
            "messages/distinct": 5, "messages/labelled": 0, "annotation/pending": 0, "workers/live": 2,
        ]
        #expect(MetricsTable.progressLine(metrics(base))
            == "steps 1002k  fps 908.69  episodes 10486  return -  success 0.420  messages 5  labelled 0  pending 0  workers 2")
        var ranking = base
        ranking["pairs/total"] = 10
        ranking["pairs/judged"] = 9
        #expect(MetricsTable.progressLine(metrics(ranking)).contains("labelled 0  pairs judged 9/10  pending 0"))
    }
}
