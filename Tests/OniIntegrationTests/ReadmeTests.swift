import Foundation
import Testing

/// The README is the short guide: its two commands first, the test command the one CI runs,
/// every link reaching a file, every reference article one hop away, and every `oni`
/// subcommand it names one that exists.
@Suite struct ReadmeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let catalog = "Sources/OniRuntime/OniRuntime.docc"

    static func text(_ path: String) throws -> String { try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8) }

    @Test func itStartsWithTheTwoCommandsAndCIRunsTheSecond() throws {
        let lines = try Self.text("README.md").split(separator: "\n", omittingEmptySubsequences: false)
        #expect(Array(lines.prefix(4)) == ["```sh", "bash deploy/setup.sh && swift build -c release && .build/release/oni run", "bash deploy/test.sh", "```"])
        #expect(try Self.text(".ci/run").split(separator: "\n").last == "bash deploy/test.sh")
    }

    @Test func itIsShortAndEveryArticleIsOneHopAway() throws {
        let readme = try Self.text("README.md")
        #expect(readme.split(separator: "\n", omittingEmptySubsequences: false).count <= 120, "a guide read in five minutes")
        // Every relative link reaches a file.
        let links = readme.matches(of: /\]\(([^)#\s]+)\)/).map { String($0.1) }.filter { !$0.contains("://") }
        #expect(!links.isEmpty)
        for link in links {
            #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(link).path), "README links to \(link), which is not there")
        }
        // Every article of the catalog is linked from the README and listed by the catalog's root page.
        let articles = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent(Self.catalog).path)
            .filter { $0.hasSuffix(".md") && $0 != "OniRuntime.md" }
        #expect(articles.count >= 10)
        let rootPage = try Self.text(Self.catalog + "/OniRuntime.md")
        for article in articles {
            #expect(links.contains("\(Self.catalog)/\(article)"), "the README does not link \(article)")
            #expect(rootPage.contains("<doc:\(article.dropLast(3))>"), "the catalog's root page does not list \(article)")
        }
    }

    @Test func everyOniSubcommandItNamesExists() throws {
        let help = try ChildProcess("oni", ["--help"], name: "readme-oni-help")
        #expect(help.wait(seconds: 30) == 0)
        let subcommands = Set(
            help.output.split(separator: "\n").compactMap { line -> String? in
                let words = line.split(separator: " ")
                return line.hasPrefix("  ") && !line.hasPrefix("   ") ? words.first.map(String.init) : nil
            })
        let named = try Self.text("README.md").matches(of: /`oni ([a-z-]+)/).map { String($0.1) }
        #expect(!named.isEmpty)
        for name in Set(named) { #expect(subcommands.contains(name), "the README names `oni \(name)`, which `oni --help` does not list") }
    }
}
