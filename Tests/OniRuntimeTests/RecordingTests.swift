import Foundation
import OniCore
import OniEnvironments
import OniLearning
import OniRuntime
import OniTestSupport
import Testing

/// Reads a ttyrec file by the format's definition: 12-byte little-endian headers (seconds,
/// microseconds, length), each followed by that many bytes.
func readTTYRec(_ path: String) throws -> [(seconds: Double, bytes: Data)] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    var frames: [(Double, Data)] = []
    var offset = data.startIndex
    func uint32(_ at: Int) -> UInt32 { data[at..<(at + 4)].enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) } }
    while offset < data.endIndex {
        try #require(data.endIndex - offset >= 12, "truncated header at \(offset)")
        let (seconds, micros, length) = (uint32(offset), uint32(offset + 4), Int(uint32(offset + 8)))
        try #require(data.endIndex - offset - 12 >= length, "truncated frame at \(offset)")
        frames.append((Double(seconds) + Double(micros) / 1_000_000, data[(offset + 12)..<(offset + 12 + length)]))
        offset += 12 + length
    }
    return frames
}

func installed(_ tool: String) -> Bool {
    ["/usr/bin", "/usr/local/bin"].contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
}

@Suite struct RecordingTests {
    /// The screens a fixed policy's episode shows, replayed by hand from the same seed.
    func referenceScreens(env: String, action: Int, seed: UInt64, episode: Int, limit: Int) throws -> [Screen] {
        let game = try EnvironmentFactory.make(name: env)
        let opening = try game.reset(seed: seed)
        var frames = [EvaluationFrame(episode: episode, step: 0, board: game.render(), message: opening, action: nil, reward: 0, episodeReturn: 0, done: false)]
        var total = 0.0
        for step in 1...limit {
            let outcome = try game.step(action)
            total += Double(outcome.reward)
            frames.append(
                EvaluationFrame(
                    episode: episode, step: step, board: game.render(), message: outcome.message, action: game.actionNames[action],
                    reward: outcome.reward, episodeReturn: total, done: outcome.done || step == limit))
            if outcome.done { break }
        }
        return frames.map { $0.screen() }
    }

    func record(env: String, action: Int, episodes: Int, limit: Int) throws -> (directory: String, options: Evaluator.Options) {
        let directory = NSTemporaryDirectory() + "oni-recordings-\(UUID().uuidString)"
        var options = Evaluator.Options(env: env)
        options.episodes = episodes
        options.greedy = true
        options.seed = 70
        options.envsPerThread = 2
        options.maxEpisodeSteps = limit
        let recordings = try EpisodeRecordings(directory: directory, env: env, framesPerSecond: 10)
        _ = try Evaluator(network: alwaysTaking(action, on: env), options: options).run(observe: { frame in
            recordings.record(episode: frame.episode, step: frame.step, screen: frame.screen(), last: frame.done)
            return true
        })
        #expect(recordings.error == nil)
        return (directory, options)
    }

    /// Every line of a .cast file checked against asciinema's v2 format, and each frame against the game.
    @Test func castFilesFollowAsciinemaV2AndShowWhatTheGameShowed() throws {
        let (directory, options) = try record(env: "grid:keyroom", action: 1, episodes: 3, limit: 40)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for episode in 0..<3 {
            let path = directory + String(format: "/episode-%06d.cast", episode)
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
            let header = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(header["version"] as? Int == 2)
            let width = try #require(header["width"] as? Int), height = try #require(header["height"] as? Int)
            #expect(width >= 80 && height > 0 && header["timestamp"] is Int)
            let expected = try referenceScreens(env: "grid:keyroom", action: 1, seed: options.seed + UInt64(episode), episode: episode, limit: 40)
            #expect(lines.count - 1 == expected.count)
            var lastTime = -1.0
            for (line, screen) in zip(lines.dropFirst(), expected) {
                let event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any])
                #expect(event.count == 3 && event[1] as? String == "o")
                let time = try #require((event[0] as? NSNumber)?.doubleValue)
                #expect(time > lastTime)
                lastTime = time
                #expect(event[2] as? String == screen.terminalText)
                #expect(screen.lines.count <= height && screen.lines.allSatisfy { $0.count <= width })
            }
            if installed("asciinema") && installed("script") {
                // asciinema's own reader prints what a player would see.
                let shown = try PseudoTerminal.output(of: "asciinema cat \(path)").replacingOccurrences(of: "\r", with: "")
                #expect(shown == expected.map(\.terminalText).joined().replacingOccurrences(of: "\r", with: ""))
            }
        }
        // No ttyrec for a grid task.
        #expect(!FileManager.default.fileExists(atPath: directory + "/episode-000000.ttyrec"))
    }

    /// NetHack episodes as classic ttyrec files: read back by the format's definition and by ttyplay.
    @Test func netHackRecordingsAreClassicTTYRec() throws {
        let (directory, options) = try record(env: "nethack:score", action: NetHackActionIndex.search, episodes: 2, limit: 30)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for episode in 0..<2 {
            let path = directory + String(format: "/episode-%06d.ttyrec", episode)
            let frames = try readTTYRec(path)
            let expected = try referenceScreens(env: "nethack:score", action: NetHackActionIndex.search, seed: options.seed + UInt64(episode), episode: episode, limit: 30)
            #expect(frames.count == expected.count)
            for (k, (frame, screen)) in zip(frames, expected).enumerated() {
                #expect(frame.bytes == Data(screen.terminalText.utf8), "frame \(k)")
                if k > 0 { #expect(abs(frame.seconds - frames[k - 1].seconds - 0.1) < 2e-6) }
            }
            #expect(expected.first?.lines.contains { $0.contains("Dlvl:1") } == true)
            if installed("ttyplay") && installed("script") {
                let shown = try PseudoTerminal.output(of: "ttyplay -n \(path)").replacingOccurrences(of: "\r", with: "")
                #expect(shown == expected.map(\.terminalText).joined().replacingOccurrences(of: "\r", with: ""))
            }
        }
    }
}
