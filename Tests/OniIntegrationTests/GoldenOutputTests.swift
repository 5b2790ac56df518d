import Foundation
import Testing

/// Help and error texts are part of the interface: compared with golden files
/// in Golden/ (regenerate them by running the command and reviewing the diff).
@Suite struct GoldenOutputTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    @Test(arguments: [
        (["--help"], "oni", "oni-help.txt", Int32(0)),
        (["bench", "nope"], "oni", "oni-bench-unknown.txt", Int32(64)),
        ([], "oni-annotator", "oni-annotator-no-llm.txt", Int32(64)),
    ])
    func outputMatchesGoldenFile(arguments: [String], executable: String, file: String, status: Int32) throws {
        let child = try ChildProcess(executable, arguments, name: file)
        #expect(child.wait(seconds: 30) == status)
        let expected = try String(contentsOf: Self.golden.appendingPathComponent(file), encoding: .utf8)
        #expect(child.output == expected)
    }
}
