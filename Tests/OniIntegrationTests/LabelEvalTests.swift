import Foundation
import OniTestSupport
import Testing

/// `oni label-eval` against an LLM whose answers are known: the figures are the hand-computed ones.
@Suite struct LabelEvalTests {
    @Test func figuresAgainstAJudgeWithKnownAnswers() throws {
        // The judge says yes to kills only; the reference also counts gold. Test part: 2 kills and
        // 1 gold (progress), 3 others; the judge finds 2 of 3, calls nothing else progress.
        let llm = try FakeLLMServer { message, _ in .reply(message.contains("kill") ? "<label>yes</label>" : "<label>no</label>") }
        defer { llm.stop() }
        let rows: [(String, String, Int)] = [
            ("You kill the newt!", "test", 1), ("You kill the jackal!", "test", 1), ("$ - 4 gold pieces.", "test", 1),
            ("It's a wall.", "test", 0), ("The newt bites!", "test", 0), ("You miss the newt.", "test", 0),
            ("You kill the fox!", "dev", 1), ("It's solid stone.", "dev", 0),
        ]
        let directory = NSTemporaryDirectory() + "oni-label-eval-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lines = try rows.map { message, part, label in
            String(decoding: try JSONSerialization.data(withJSONObject: ["message": message, "count": 1, "part": part, "labels": ["default": label]]), as: UTF8.self)
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/set.jsonl"))
        let eval = try ChildProcess(
            "oni", ["label-eval", directory + "/set.jsonl", "--llm-url", llm.baseURL.absoluteString, "--label-mode", "tagged", "--json", directory + "/report.json"],
            name: "label-eval")
        #expect(eval.wait(seconds: 60) == 0, "\(eval.output)")
        // p_o = 5/6; reference rate 1/2, judge rate 1/3: p_e = 1/2; κ = (5/6 − 1/2) / (1/2) = 2/3.
        #expect(eval.output.contains("judged        6 (0 without a label)"), "\(eval.output)")
        #expect(eval.output.contains("agreement     0.833") && eval.output.contains("precision     1.000") && eval.output.contains("recall        0.667"))
        #expect(eval.output.contains("Cohen's κ     0.667"), "\(eval.output)")
        #expect(eval.output.contains("1 → 0  $ - 4 gold pieces."), "\(eval.output)")
        // Only the test part was asked; every message once.
        #expect(Set(llm.receivedMessages) == Set(rows.filter { $0.1 == "test" }.map { "Game message: \($0.0)" }))
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/report.json"))) as? [String: Any])
        #expect((report["judgements"] as? [Any])?.count == 6 && report["labelMode"] as? String == "tagged")
    }

    /// The same set asked with ONI's chain-of-thought prompt: its reasoning and FOO/BAR label are read
    /// from the reply, and the figures are the same as the judge's answers are.
    @Test func onisPromptIsAskedAndItsLabelsRead() throws {
        let llm = try FakeLLMServer { message, _ in
            let killed = message.contains("Please rate this message: {\"You kill")
            return .reply("<knowledge> NetHack is a roguelike; its goal is the Amulet. </knowledge>\n<analysis> A kill earns points. </analysis>\n"
                + "<label> \(killed ? "FOO" : "BAR") </label>")
        }
        defer { llm.stop() }
        let rows: [(String, Int)] = [("You kill the newt!", 1), ("$ - 4 gold pieces.", 1), ("It's a wall.", 0), ("You miss the newt.", 0)]
        let directory = NSTemporaryDirectory() + "oni-label-eval-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lines = try rows.map { message, label in
            String(decoding: try JSONSerialization.data(withJSONObject: ["message": message, "count": 1, "part": "test", "labels": ["default": label]]), as: UTF8.self)
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/set.jsonl"))
        let eval = try ChildProcess("oni", ["label-eval", directory + "/set.jsonl", "--llm-url", llm.baseURL.absoluteString, "--prompt", "oni"], name: "label-eval")
        #expect(eval.wait(seconds: 60) == 0, "\(eval.output)")
        #expect(eval.output.contains("(tagged, prompt oni"), "\(eval.output)")
        // p_o = 3/4; reference rate 1/2, judge rate 1/4: p_e = 1/2; κ = (3/4 − 1/2) / (1/2) = 1/2.
        #expect(eval.output.contains("judged        4 (0 without a label)") && eval.output.contains("Cohen's κ     0.500"), "\(eval.output)")
        #expect(llm.receivedMessages.count == 4 && llm.receivedMessages.allSatisfy { $0.hasPrefix("Context: I am playing NetHack") })
    }

    /// Interrupted while it labels, `oni label-eval` stops the llama-server it started instead of
    /// leaving it running with no parent.
    @Test(.enabled(if: OniRunTests.localLLMInstalled)) func anInterruptedRunStopsItsLocalServer() throws {
        let set = FileManager.default.currentDirectoryPath + "/Tests/OniAnnotationTests/LabelSet/nethack-messages.jsonl"
        let eval = try ChildProcess("oni", ["label-eval", set, "--limit", "200", "--llm-threads", "1"], name: "label-eval")
        var servers: [Int32] = []
        defer { for pid in servers { kill(pid, SIGKILL) } }  // should this test fail, no server is left behind either
        #expect(eventually(seconds: 240) {
            servers = childPIDs(of: eval.pid, matching: "llama-server")
            return !servers.isEmpty && eval.output.contains("messages of")
        }, "\(eval.output)")
        eval.signal(SIGTERM)
        #expect(eval.wait(seconds: 30) == 128 + SIGTERM, "\(eval.output)")
        #expect(!servers.isEmpty && servers.allSatisfy { kill($0, 0) != 0 }, "llama-server \(servers) outlived oni label-eval")
    }
}
