import Foundation
import OniCore

/// A screen as a terminal shows it: the game's message on top, its picture (`render()`), and a
/// line of Oni's own (step, action, reward).
public struct Screen: Sendable, Equatable {
    public var message: String
    public var board: String
    public var info: String

    public init(message: String, board: String, info: String) {
        self.message = message
        self.board = board
        self.info = info
    }

    /// The lines, top to bottom.
    public var lines: [String] { [message] + board.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) + [info] }

    /// What a terminal is sent to show it: home and clear, then the lines (CR LF between them).
    public var terminalText: String { "\u{1B}[H\u{1B}[2J" + lines.joined(separator: "\r\n") + "\r\n" }
}

/// Where an episode's screens go, each at its time from the episode's start.
public protocol ScreenRecorder: AnyObject {
    func record(_ screen: Screen, at seconds: Double) throws
    func close() throws
}

/// The classic ttyrec format that `ttyplay`, `ipbt` and NetHack players' tools read: per frame a
/// 12-byte header — seconds, microseconds, length, each a little-endian uint32 — and the bytes
/// sent to the terminal.
public final class TTYRecWriter: ScreenRecorder {
    private let handle: FileHandle
    private let start: Double

    public init(path: String, startUnixSeconds: Double = Date().timeIntervalSince1970) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw RuntimeError.invalidConfiguration("cannot create the recording \(path)")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        start = startUnixSeconds
    }

    public func record(_ screen: Screen, at seconds: Double) throws {
        let payload = Data(screen.terminalText.utf8)
        let time = start + seconds
        var header = Data()
        for value in [UInt32(time), UInt32((time - time.rounded(.down)) * 1_000_000), UInt32(payload.count)] {
            withUnsafeBytes(of: value.littleEndian) { header.append(contentsOf: $0) }
        }
        try handle.write(contentsOf: header + payload)
    }

    public func close() throws { try handle.close() }
}

/// asciinema's v2 `.cast` format: a JSON header line, then one `[seconds, "o", text]` line per frame.
public final class AsciicastWriter: ScreenRecorder {
    private let handle: FileHandle

    public init(path: String, width: Int, height: Int, title: String, startUnixSeconds: Double = Date().timeIntervalSince1970) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw RuntimeError.invalidConfiguration("cannot create the recording \(path)")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let header: [String: Any] = [
            "version": 2, "width": width, "height": height, "timestamp": Int(startUnixSeconds), "title": title,
            "env": ["TERM": "xterm-256color", "SHELL": "/bin/sh"],
        ]
        try handle.write(contentsOf: JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]) + Data("\n".utf8))
    }

    public func record(_ screen: Screen, at seconds: Double) throws {
        let event: [Any] = [(seconds * 1_000_000).rounded() / 1_000_000, "o", screen.terminalText]
        try handle.write(contentsOf: JSONSerialization.data(withJSONObject: event) + Data("\n".utf8))
    }

    public func close() throws { try handle.close() }
}

/// Recordings of evaluation episodes in a directory: `episode-NNNNNN.cast` for every environment,
/// and `episode-NNNNNN.ttyrec` beside it for NetHack. Frames are `1 / framesPerSecond` apart.
public final class EpisodeRecordings: @unchecked Sendable {
    public let directory: URL
    public let env: String
    public let framesPerSecond: Double
    /// File names start with this (`episode`, or a worker's id).
    public let prefix: String
    private let lock = NSLock()
    private var open: [Int: [ScreenRecorder]] = [:]
    private var failure: String?

    public init(directory: String, env: String, framesPerSecond: Double = 10, prefix: String = "episode") throws {
        self.prefix = prefix
        self.directory = URL(fileURLWithPath: directory)
        self.env = env
        self.framesPerSecond = framesPerSecond
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    public func name(episode: Int) -> String { prefix + String(format: "-%06d", episode) }

    /// Records frame `step` of `episode`; `last` closes its files.
    public func record(episode: Int, step: Int, screen: Screen, last: Bool) {
        lock.withLock {
            do {
                if open[episode] == nil {
                    let base = directory.appendingPathComponent(name(episode: episode)).path
                    let width = max(80, screen.lines.map(\.count).max() ?? 80)
                    var recorders: [ScreenRecorder] = [try AsciicastWriter(path: base + ".cast", width: width, height: screen.lines.count, title: "\(env) episode \(episode)")]
                    if env.hasPrefix("nethack:") { recorders.append(try TTYRecWriter(path: base + ".ttyrec")) }
                    open[episode] = recorders
                }
                for recorder in open[episode]! { try recorder.record(screen, at: Double(step) / framesPerSecond) }
                if last {
                    for recorder in open[episode]! { try recorder.close() }
                    open[episode] = nil
                }
            } catch {
                failure = failure ?? "\(error)"
            }
        }
    }

    /// The first error met, if any.
    public var error: String? { lock.withLock { failure } }
}

/// Records every `every`-th episode a worker's first environment plays (`--record-every`), into
/// `WORKER_ID-NNNNNN.cast` (and `.ttyrec` for NetHack). Touched only by the thread that steps
/// that environment.
final class WorkerRecording: @unchecked Sendable {
    let every: Int
    let recordings: EpisodeRecordings
    let actionNames: [String]
    private var started = 0
    private var current: (episode: Int, step: Int, total: Double)?

    init(every: Int, directory: String, workerID: String, environment: any Environment) throws {
        self.every = every
        recordings = try EpisodeRecordings(directory: directory, env: environment.name, prefix: workerID)
        actionNames = environment.actionNames
    }

    /// A new episode began on the environment (after its reset).
    func episodeStarted(_ environment: any Environment, opening: String) {
        defer { started += 1 }
        guard started % every == 0 else { current = nil; return }
        current = (started, 0, 0)
        let frame = EvaluationFrame(episode: started, step: 0, board: environment.render(), message: opening, action: nil, reward: 0, episodeReturn: 0, done: false)
        recordings.record(episode: started, step: 0, screen: frame.screen(), last: false)
    }

    /// The environment took `action` with `outcome` (before any reset).
    func stepped(_ environment: any Environment, action: Int, outcome: StepOutcome) {
        guard var episode = current else { return }
        episode.step += 1
        episode.total += Double(outcome.reward)
        current = outcome.done ? nil : episode
        let frame = EvaluationFrame(
            episode: episode.episode, step: episode.step, board: environment.render(), message: outcome.message,
            action: action < actionNames.count ? actionNames[action] : "\(action)", reward: outcome.reward, episodeReturn: episode.total, done: outcome.done)
        recordings.record(episode: episode.episode, step: episode.step, screen: frame.screen(), last: outcome.done)
    }
}
