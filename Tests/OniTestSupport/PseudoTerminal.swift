import Foundation

/// Runs a command under a pseudo-terminal (`script`), as players and `oni watch` need one.
public enum PseudoTerminal {
    /// What `command` shows, typing `input` after `after` seconds (nil: nothing typed).
    public static func output(of command: String, input: String? = nil, after: Double = 0) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qc", command, "/dev/null"]
        let output = Pipe(), keys = Pipe()
        process.standardOutput = output
        process.standardInput = keys
        try process.run()
        if let input {
            Thread.sleep(forTimeInterval: after)
            keys.fileHandleForWriting.write(Data(input.utf8))
        }
        let shown = output.fileHandleForReading.readDataToEndOfFile()
        try? keys.fileHandleForWriting.close()
        process.waitUntilExit()
        return String(decoding: shown, as: UTF8.self)
    }
}
