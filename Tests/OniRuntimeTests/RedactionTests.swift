import Foundation
import Logging
import OniCore
import OniRuntime
import OniTransport
import Synchronization
import Testing

/// Credentials in URLs never reach what Oni prints or stores.
@Suite struct RedactionTests {
    @Test func everyURLLosesItsUserAndPasswordAndNothingElse() {
        #expect(Redaction.credentials(in: "http://user:secret@gpu-node:8000/v1") == "http://***@gpu-node:8000/v1")
        #expect(Redaction.credentials(in: "https://token@api.example.com/v1?x=a@b") == "https://***@api.example.com/v1?x=a@b")
        #expect(Redaction.credentials(in: "http://gpu-node:8000/v1") == "http://gpu-node:8000/v1")
        #expect(Redaction.credentials(in: "mail me at oni@example.com") == "mail me at oni@example.com")
        // URLs inside JSON end at their quote: a later '@' (a model's identity) is not theirs.
        #expect(
            Redaction.credentials(in: #"{"url":"http://h:8080","model":"q@sha256:1d96"}"#) == #"{"url":"http://h:8080","model":"q@sha256:1d96"}"#)
        #expect(Redaction.credentials(in: #"{"url":"http://u:p@h:8080"}"#) == #"{"url":"http://***@h:8080"}"#)
        #expect(
            Redaction.credentials(in: "llm http://a:b@x:1/v1 failed; tried https://c:d@e@y/v1 too")
                == "llm http://***@x:1/v1 failed; tried https://***@y/v1 too")
    }

    /// A handler that keeps what it was given.
    struct Keeping: LogHandler {
        let box: Box
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            box.lines.withLock { $0.append("\(event.message) \(fields)") }
        }
    }

    final class Box: @unchecked Sendable { let lines = Mutex<[String]>([]) }

    @Test func logsCarryNoCredentials() {
        let box = Box()
        let logger = Logger(label: "test") { _ in RedactingLogHandler(Keeping(box: box)) }
        let url = URL(string: "https://oni:hunter2@gpu-7:8000/v1")!
        logger.warning(
            "LLM at \(url.absoluteString) unreachable",
            metadata: ["llm": "\(url)", "tried": .array([.string("http://a:b@c/")]), "nested": .dictionary(["u": .stringConvertible(url)])])
        let text = box.lines.withLock { $0.joined() }
        #expect(!text.contains("hunter2") && !text.contains("a:b@"), "\(text)")
        #expect(text.contains("https://***@gpu-7:8000/v1 unreachable"))
    }
}

/// The LLM API key goes to the annotator's process and to no other.
@Suite struct ChildEnvironmentTests {
    @Test func onlyTheAnnotatorIsGivenTheAPIKey() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("oni-child-env-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Each role's executable is `env` under the role's name: it prints what it was given.
        for name in ["oni-annotator", "oni-worker", "oni-learner", "llama-server"] {
            try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent(name).path, withDestinationPath: "/usr/bin/env")
        }
        let launcher = ProcessLauncher(
            executableDirectory: directory, transport: InMemoryTransport(),
            environment: ["ONI_LLM_API_KEY": "sk-annotator-only", "OPENAI_API_KEY": "sk-openai", "PATH": "/usr/bin:/bin", "ONI_KEEP": "yes"])
        var printed: [String: String] = [:]
        for name in ["oni-annotator", "oni-worker", "oni-learner", "llama-server"] {
            let path = directory.appendingPathComponent("\(name).log")
            FileManager.default.createFile(atPath: path.path, contents: nil)
            let log = try FileHandle(forWritingTo: path)
            let role = try launcher.launch(role: name, executable: name, arguments: [], log: log)
            while role.isRunning { Thread.sleep(forTimeInterval: 0.01) }
            try log.close()
            printed[name] = try String(contentsOf: path, encoding: .utf8)
        }
        #expect(printed["oni-annotator"]!.contains("ONI_LLM_API_KEY=sk-annotator-only") && printed["oni-annotator"]!.contains("OPENAI_API_KEY=sk-openai"))
        for name in ["oni-worker", "oni-learner", "llama-server"] {
            #expect(!printed[name]!.contains("sk-"), "\(name) was given a key")
            #expect(printed[name]!.contains("ONI_KEEP=yes") && printed[name]!.contains("ONI_PARENT_PID="), "\(name) lost the rest")
        }
    }
}
