import Foundation
import OniAnnotation
import OniCore
import OniStorage

/// `oni replay annotate`: labels every message a run's store holds again, with
/// another model, prompt mode, goal or examples, and adds the new labels beside
/// the old ones (the newest label is the one `message_labels` and a resumed
/// learner use). Reports what changed.
public struct Relabeller {
    public struct Report: Sendable {
        public var messages = 0
        public var labelled = 0
        public var unparseable = 0
        /// Messages whose answers disagreed under `--label-check`.
        public var disagreed = 0
        public var errors = 0
        /// Messages whose label differs from their previous one: (text, old, new).
        public var changed: [(text: String, old: Float, new: Float)] = []
        /// Messages that had no label before and have one now.
        public var newlyLabelled = 0
    }

    public let runDirectory: String
    public let labeler: MessageLabeler
    /// Messages sent to the labeler at once (it keeps the backend's concurrency limit).
    public var chunk = 64

    public init(runDirectory: String, labeler: MessageLabeler) {
        self.runDirectory = runDirectory
        self.labeler = labeler
    }

    /// Labels every stored message; `progress(done, total)` after each chunk.
    public func run(progress: (Int, Int) -> Void) async throws -> Report {
        let lock: RunDirectoryLock
        do {
            lock = try RunDirectoryLock(runDirectory: URL(fileURLWithPath: runDirectory))
        } catch {
            throw RuntimeError.invalidConfiguration("\(error); stop the learner using \(runDirectory) first")
        }
        defer { lock.release() }
        let store = try RunStore(runDirectory: URL(fileURLWithPath: runDirectory))
        defer { store.close() }
        let messages = try store.messages()
        var report = Report()
        report.messages = messages.count
        var done = 0
        for start in stride(from: 0, to: messages.count, by: max(1, chunk)) {
            let slice = Array(messages[start..<min(messages.count, start + chunk)])
            let results = await labeler.label(slice.map { AnnotationItem(messageID: $0.id, text: $0.text) })
            let stamp = Int64(Date().timeIntervalSince1970 * 1000)
            try store.write(results.map { .label($0, unixMilliseconds: stamp) })
            for (row, result) in zip(slice, results) {
                switch result.outcome {
                case let .labelled(value, _):
                    report.labelled += 1
                    if let old = row.label {
                        if old != value { report.changed.append((row.text, old, value)) }
                    } else {
                        report.newlyLabelled += 1
                    }
                case .unparseable: report.unparseable += 1
                case .disagreed: report.disagreed += 1
                case .backendError: report.errors += 1
                }
            }
            done += slice.count
            progress(done, messages.count)
        }
        return report
    }
}
