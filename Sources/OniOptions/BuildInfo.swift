import Foundation
import OniRuntime

/// What made this executable: Oni's version and, when it was built from a git checkout, the
/// commit that checkout was at (read from the checkout beside `.build`, without running git).
public struct BuildInfo: Sendable {
    public static let version = OniVersion.current

    public var version: String
    public var commit: String?

    public static let current = BuildInfo(version: version, commit: checkoutCommit())

    /// `--version`'s line.
    public var versionLine: String { commit.map { "\(version) (\($0.prefix(12)))" } ?? version }

    public var dictionary: [String: String] {
        var made = ["oni_version": version]
        if let commit { made["git_commit"] = commit }
        return made
    }

    /// The HEAD commit of the checkout holding `.build/…/<this executable>`, if there is one.
    static func checkoutCommit() -> String? {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while directory.path != "/" {
            if directory.lastPathComponent == ".build" {
                return headCommit(gitDirectory: directory.deletingLastPathComponent().appendingPathComponent(".git"))
            }
            directory.deleteLastPathComponent()
        }
        return nil
    }

    static func headCommit(gitDirectory git: URL) -> String? {
        guard let head = try? String(contentsOf: git.appendingPathComponent("HEAD"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        else { return nil }
        guard head.hasPrefix("ref: ") else { return head.count == 40 ? head : nil }
        let reference = String(head.dropFirst(5))
        if let loose = try? String(contentsOf: git.appendingPathComponent(reference), encoding: .utf8) {
            return loose.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // Packed references: "<sha> <ref>" lines.
        guard let packed = try? String(contentsOf: git.appendingPathComponent("packed-refs"), encoding: .utf8) else { return nil }
        return packed.split(separator: "\n").first { $0.hasSuffix(" " + reference) }.map { String($0.prefix(40)) }
    }
}
