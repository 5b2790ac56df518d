import Foundation
import Synchronization

/// Runs a command under a pseudo-terminal (`script`), as players and `oni watch` need one.
public enum PseudoTerminal {
    /// What `command` shows, typing `input` once `shown` has appeared `times` times in its output
    /// (or after `timeout` seconds if it never does); with no input, nothing is typed.
    public static func output(of command: String, input: String? = nil, once shown: String = "", times: Int = 1, timeout: Double = 60) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qc", command, "/dev/null"]
        let output = Pipe(), keys = Pipe()
        process.standardOutput = output
        process.standardInput = keys
        let collected = Mutex(Data())
        let finished = DispatchSemaphore(value: 0)
        // Read on a thread of its own, so the input can wait for what the command shows.
        let reader = Thread {
            while case let chunk = output.fileHandleForReading.availableData, !chunk.isEmpty {
                collected.withLock { $0.append(chunk) }
            }
            finished.signal()
        }
        try process.run()
        reader.start()
        if let input {
            let deadline = Date().addingTimeInterval(timeout)
            func seen() -> Int {
                guard !shown.isEmpty else { return times }
                return collected.withLock { String(decoding: $0, as: UTF8.self) }.components(separatedBy: shown).count - 1
            }
            while seen() < times && process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            // Not to a command that has already ended: nothing would read it.
            if process.isRunning { keys.fileHandleForWriting.write(Data(input.utf8)) }
        }
        finished.wait()
        try? keys.fileHandleForWriting.close()
        process.waitUntilExit()
        return collected.withLock { String(decoding: $0, as: UTF8.self) }
    }
}
