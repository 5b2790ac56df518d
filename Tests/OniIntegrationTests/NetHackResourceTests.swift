import Foundation
import Testing

/// A thousand NetHack resets and a hundred instances made and closed, in a process of their own
/// (`oni bench resets`), leave its descriptors, libnethack copies and game directories as they
/// were and its memory close to flat.
@Suite struct NetHackResourceTests {
    struct Change {
        var fds: (Int, Int), memfds: (Int, Int), directories: (Int, Int), rss: (Double, Double)
    }

    static func parse(_ line: Substring) -> Change? {
        let numbers = line.split(separator: ":").last.map { tail in
            tail.split(whereSeparator: { !"0123456789.".contains($0) }).compactMap { Double($0) }
        } ?? []
        guard numbers.count == 8 else { return nil }
        return Change(
            fds: (Int(numbers[0]), Int(numbers[1])), memfds: (Int(numbers[2]), Int(numbers[3])),
            directories: (Int(numbers[4]), Int(numbers[5])), rss: (numbers[6], numbers[7]))
    }

    @Test func aThousandResetsLeaveNothingBehind() throws {
        let child = try ChildProcess("oni", ["bench", "resets", "--resets", "1000"], name: "bench-resets")
        #expect(child.wait(seconds: 300) == 0, "\(child.output)")
        let lines = child.output.split(separator: "\n").filter { $0.hasPrefix("resets ") }
        #expect(lines.count == 2, "\(child.output)")
        for (line, count) in zip(lines, [1000, 100]) {
            let change = try #require(Self.parse(line), "\(line)")
            #expect(change.fds.0 == change.fds.1, "descriptors: \(line)")
            #expect(change.memfds.0 == 1 && change.memfds.1 == 1, "one libnethack copy, the live instance's: \(line)")
            #expect(change.directories.0 == 1 && change.directories.1 == 1, "one game directory: \(line)")
            // libnethack itself keeps ~2 KiB per game it plays (NLE's Python package the same:
            // 2.1 KiB per reset); a leak of ours (an observation buffer, a copy of the library)
            // would be tens of KiB to MiB per reset.
            let perGame = (change.rss.1 - change.rss.0) * 1024 / Double(count)
            #expect(perGame < 8, "RSS grew \(perGame) KiB per game: \(line)")
        }
    }
}
