import Foundation
import Synchronization

/// A product executable started by a test, its output captured to a file.
final class ChildProcess {
    let name: String
    let process = Process()
    let outputPath: String

    /// Directory of the built executables: ONI_BIN_DIR, or the test bundle's own directory.
    static var binDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["ONI_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // swift test runs the bundle from .build/<triple>/debug/; the products sit beside it.
        while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("oni-learner").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }

    /// Starts `executable` from `binDirectory`; with `namespace`, inside that network namespace
    /// (`ip netns exec`, which becomes the executable: signals reach it directly).
    init(_ executable: String, _ arguments: [String], name: String? = nil, environment: [String: String] = [:], namespace: String? = nil) throws {
        self.name = name ?? executable
        outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("oni-\(self.name)-\(UUID().uuidString).log").path
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        // An absolute path is run as it is (a shell, a system tool); a name, from the build.
        let path = executable.hasPrefix("/") ? URL(fileURLWithPath: executable) : Self.binDirectory.appendingPathComponent(executable)
        if let namespace {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace, path.path] + arguments
        } else {
            process.executableURL = path
            process.arguments = arguments
        }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "ONI_LLM_BASE_URL")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        try process.run()
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }
    var pid: Int32 { process.processIdentifier }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for exit; returns the status, or nil if still running after `seconds`.
    @discardableResult
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// SIGTERM, then SIGKILL if it has not exited within `seconds`. Returns the exit status.
    @discardableResult
    func stop(seconds: Double = 15) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        signal(SIGTERM)
        if let status = wait(seconds: seconds) { return status }
        // Not stopped in time: what each of its threads was doing goes to the test's output
        // before the kill, so a slow or stuck stop can be read from a CI log.
        FileHandle.standardError.write(Data("\(name) (pid \(pid)) still running \(seconds) s after SIGTERM; its threads:\n\(backtraces())\nits output (last 4000 characters):\n\(output.suffix(4000))\n".utf8))
        signal(SIGKILL)
        process.waitUntilExit()
        return nil
    }

    /// Every thread's stack, from gdb if the machine has it.
    func backtraces() -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") else { return "(no /usr/bin/gdb to show them)" }
        let gdb = Process()
        gdb.executableURL = URL(fileURLWithPath: "/usr/bin/gdb")
        gdb.arguments = ["-p", "\(pid)", "-batch", "-nx", "-ex", "thread apply all bt 25"]
        let pipe = Pipe()
        gdb.standardOutput = pipe
        gdb.standardError = pipe
        gdb.standardInput = FileHandle.nullDevice
        guard (try? gdb.run()) != nil else { return "(gdb did not start)" }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        gdb.waitUntilExit()
        return text
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: outputPath)
    }
}

/// Free loopback TCP ports for the processes a test starts.
///
/// Ports come from below the kernel's ephemeral range (`ip_local_port_range`): a port picked
/// inside it can be taken, between the check and the child's bind, as the local end of any
/// outgoing connection on the machine (CI once lost a run to exactly that). No port is handed
/// out twice in one test process, so tests running side by side never pick the same one.
/// The pids of `parent`'s children (those whose command line contains `pattern`, if given), oldest first.
func childPIDs(of parent: Int32, matching pattern: String? = nil) -> [Int32] {
    let pgrep = Process()
    pgrep.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
    pgrep.arguments = ["-P", "\(parent)"] + (pattern.map { ["-f", $0] } ?? [])
    let pipe = Pipe()
    pgrep.standardOutput = pipe
    try? pgrep.run()
    pgrep.waitUntilExit()
    return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").compactMap { Int32($0) }
}

enum FreePorts {
    private static let handedOut = Mutex<Set<Int>>([])

    /// Ports below this are never ephemeral.
    static let ephemeralLow: Int = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
    }()

    static func one() -> Int { consecutive(1) }

    /// The first of `count` consecutive free ports.
    static func consecutive(_ count: Int) -> Int {
        let low = 10_000, high = max(low + 1_000, ephemeralLow) - count
        for _ in 0..<1_000 {
            let base = Int.random(in: low...high)
            let ports = Set(base..<(base + count))
            let claimed = handedOut.withLock { taken in
                guard taken.isDisjoint(with: ports), ports.allSatisfy(isFree) else { return false }
                taken.formUnion(ports)
                return true
            }
            if claimed { return base }
        }
        fatalError("no \(count) consecutive free ports between \(low) and \(high + count)")
    }

    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// Polls `condition` every 100 ms until it holds or `seconds` pass.
func eventually(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return try condition()
}
