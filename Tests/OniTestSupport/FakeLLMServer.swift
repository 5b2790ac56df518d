import Foundation
import OniCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real HTTP/1.1 server (on 127.0.0.1 unless told otherwise) that answers
/// `POST /v1/chat/completions` like an OpenAI-compatible LLM server, with
/// replies chosen by a test's responder. It speaks plain POSIX sockets: one
/// thread accepts connections and each connection gets its own thread.
/// Keep-alive connections and `Content-Length` request bodies are supported.
public final class FakeLLMServer: @unchecked Sendable {
    /// What the server does with one chat-completions request.
    public enum Response: Sendable {
        /// 200 with a chat-completions object whose `choices[0].message.content` is the text.
        case reply(String)
        /// That HTTP status with a small JSON error body.
        case status(Int)
        /// 200 with a body that is not JSON.
        case garbage
        /// Waits this many seconds, then replies 200 with `<label>no</label>`.
        case hang(seconds: Double)
        /// 200 whose content is the first token and whose `logprobs.content[0].top_logprobs`
        /// lists these (token, log-probability) pairs, as a server with logprobs answers.
        case logprobs([(token: String, logprob: Double)])
    }

    /// A socket call that failed while starting the server.
    public struct StartError: Error, CustomStringConvertible {
        /// The failing call, e.g. `bind`.
        public let operation: String
        /// The `errno` it left.
        public let code: Int32

        public var description: String { "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))" }
    }

    /// Picks the response for a request from its last user message and its
    /// 1-based number among all chat-completions requests.
    public typealias Responder = @Sendable (_ lastUserMessage: String, _ requestNumber: Int) -> Response

    private let core: Core

    /// The IPv4 address it listens on.
    public let host: String

    /// Starts listening on `host` (default 127.0.0.1) on a port chosen by the OS; `GET /v1/models`
    /// lists `models` (404 when there are none, as some servers answer).
    public init(host: String = "127.0.0.1", models: [String] = [], responder: @escaping Responder) throws(StartError) {
        self.host = host
        core = try Core(host: host, models: models, responder: responder)
        core.start()
    }

    deinit {
        core.stop()
    }

    /// The TCP port the server listens on.
    public var port: Int { core.port }

    /// The OpenAI-style API base: `http://<host>:<port>/v1`.
    public var baseURL: URL {
        var components = URLComponents()
        components.scheme = "http"
        components.host = host
        components.port = port
        components.path = "/v1"
        guard let url = components.url else { preconditionFailure("\(host):\(port) is always a valid URL") }
        return url
    }

    /// Chat-completions requests received so far.
    public var requestCount: Int { core.state.withLock { $0.requestCount } }

    /// The last user message of each chat-completions request, in arrival order.
    public var receivedMessages: [String] { core.state.withLock { $0.receivedMessages } }

    /// The most chat-completions requests that were being handled at the same time.
    public var maxConcurrent: Int { core.state.withLock { $0.maxInFlight } }

    /// Closes the listening socket and every open connection. Idempotent.
    public func stop() {
        core.stop()
    }
}

extension FakeLLMServer {
    struct State {
        var stopped = false
        var requestCount = 0
        var receivedMessages: [String] = []
        var inFlight = 0
        var maxInFlight = 0
        var connections: Set<Int32> = []
        var listenerOpen = true
    }

    /// The sockets and threads, kept apart from `FakeLLMServer` so that the
    /// threads do not keep the public object alive and `deinit` can stop them.
    final class Core: @unchecked Sendable {
        let state = Mutex(State())
        let port: Int
        private let listener: Int32
        private let responder: Responder
        private let models: [String]
        private let acceptLoopDone = DispatchSemaphore(value: 0)

        private static let maxHeaderBytes = 64 * 1024
        private static let maxBodyBytes = 16 * 1024 * 1024

        init(host: String, models: [String], responder: @escaping Responder) throws(StartError) {
            self.responder = responder
            self.models = models
            let fd = socket(AF_INET, Self.streamType, 0)
            guard fd >= 0 else { throw StartError(operation: "socket", code: errno) }
            var enable: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &enable, socklen_t(MemoryLayout<Int32>.size))

            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = inet_addr(host)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let code = errno
                close(fd)
                throw StartError(operation: "bind", code: code)
            }
            guard listen(fd, 128) == 0 else {
                let code = errno
                close(fd)
                throw StartError(operation: "listen", code: code)
            }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0 else {
                let code = errno
                close(fd)
                throw StartError(operation: "getsockname", code: code)
            }
            listener = fd
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        #if canImport(Glibc)
        private static let streamType = Int32(SOCK_STREAM.rawValue)
        private static let sendFlags = Int32(MSG_NOSIGNAL)
        #else
        private static let streamType = SOCK_STREAM
        private static let sendFlags: Int32 = 0
        #endif

        func start() {
            let thread = Thread { [self] in acceptLoop() }
            thread.name = "FakeLLMServer.accept"
            thread.start()
        }

        func stop() {
            // Wakes the accept loop (accept fails on a shut-down socket) and
            // every connection thread blocked in recv; each closes its own
            // descriptor. Descriptors are only closed under the same lock, so
            // none of these numbers can have been reused by another socket.
            let first = state.withLock { s in
                if s.stopped { return false }
                s.stopped = true
                if s.listenerOpen { shutdown(listener, Int32(SHUT_RDWR)) }
                for fd in s.connections { shutdown(fd, Int32(SHUT_RDWR)) }
                return true
            }
            if first { acceptLoopDone.wait() }
        }

        private var isStopped: Bool { state.withLock { $0.stopped } }

        private func acceptLoop() {
            defer {
                state.withLock { s in
                    s.listenerOpen = false
                    close(listener)
                }
                acceptLoopDone.signal()
            }
            while true {
                let fd = accept(listener, nil, nil)
                if fd < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    return
                }
                let registered = state.withLock { s in
                    guard !s.stopped else { return false }
                    s.connections.insert(fd)
                    return true
                }
                guard registered else {
                    close(fd)
                    return
                }
                #if canImport(Darwin)
                var noSigPipe: Int32 = 1
                _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &noSigPipe, socklen_t(MemoryLayout<Int32>.size))
                #endif
                let thread = Thread { [self] in serve(fd) }
                thread.name = "FakeLLMServer.connection"
                thread.start()
            }
        }

        // MARK: Connections

        private struct Request {
            var method: String
            var path: String
            var keepAlive: Bool
            var body: [UInt8]
        }

        private func serve(_ fd: Int32) {
            defer {
                // Unregister and close under the lock, so `stop()` never shuts
                // down a descriptor number that has been reused elsewhere.
                state.withLock { s in
                    s.connections.remove(fd)
                    close(fd)
                }
            }
            var buffer: [UInt8] = []
            while !isStopped {
                guard let request = readRequest(fd, &buffer) else { return }
                let keepAlive = handle(request, on: fd)
                if !keepAlive { return }
            }
        }

        /// Reads one request; nil when the peer closed, the server stopped or
        /// the request could not be framed (an error response is sent then).
        private func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> Request? {
            let terminator: [UInt8] = [13, 10, 13, 10]
            var headerEnd: Int?
            while headerEnd == nil {
                headerEnd = Self.find(terminator, in: buffer)
                if headerEnd != nil { break }
                if buffer.count > Self.maxHeaderBytes {
                    write(fd, status: 431, contentType: "application/json", body: Self.errorBody(431), keepAlive: false)
                    return nil
                }
                guard receive(fd, into: &buffer) else { return nil }
            }
            guard let headerEnd else { return nil }

            let head = String(decoding: buffer[..<headerEnd], as: UTF8.self)
            buffer.removeSubrange(..<(headerEnd + terminator.count))
            var lines = head.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: true)
            guard requestLine.count == 3 else {
                write(fd, status: 400, contentType: "application/json", body: Self.errorBody(400), keepAlive: false)
                return nil
            }
            let version = requestLine[2].uppercased()
            var headers: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
                headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }

            let connection = headers["connection"]?.lowercased() ?? ""
            let keepAlive = version == "HTTP/1.1" ? !connection.contains("close") : connection.contains("keep-alive")

            if headers["transfer-encoding"].map({ $0.lowercased() != "identity" }) ?? false {
                write(fd, status: 411, contentType: "application/json", body: Self.errorBody(411), keepAlive: false)
                return nil
            }
            let length = Int(headers["content-length"] ?? "0") ?? -1
            guard length >= 0, length <= Self.maxBodyBytes else {
                write(fd, status: 400, contentType: "application/json", body: Self.errorBody(400), keepAlive: false)
                return nil
            }
            if headers["expect"]?.lowercased() == "100-continue" {
                guard sendAll(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return nil }
            }
            while buffer.count < length {
                guard receive(fd, into: &buffer) else { return nil }
            }
            let body = Array(buffer[..<length])
            buffer.removeSubrange(..<length)

            var path = String(requestLine[1])
            if let query = path.firstIndex(of: "?") { path = String(path[..<query]) }
            return Request(method: requestLine[0].uppercased(), path: path, keepAlive: keepAlive, body: body)
        }

        /// Answers one request; returns whether the connection stays open.
        private func handle(_ request: Request, on fd: Int32) -> Bool {
            if request.path == "/v1/models", request.method == "GET", !models.isEmpty {
                let body = Self.json(["object": "list", "data": models.map { ["id": $0, "object": "model"] }])
                return write(fd, status: 200, contentType: "application/json", body: body, keepAlive: request.keepAlive)
            }
            guard request.path == "/v1/chat/completions" else {
                return write(fd, status: 404, contentType: "application/json", body: Self.errorBody(404), keepAlive: request.keepAlive)
            }
            guard request.method == "POST" else {
                return write(fd, status: 405, contentType: "application/json", body: Self.errorBody(405), keepAlive: request.keepAlive)
            }
            guard let json = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
                  let messages = json["messages"] as? [[String: Any]]
            else {
                return write(fd, status: 400, contentType: "application/json", body: Self.errorBody(400), keepAlive: request.keepAlive)
            }
            let lastUser = messages.last { ($0["role"] as? String) == "user" }?["content"] as? String ?? ""
            let model = json["model"] as? String ?? "fake-model"

            let number = state.withLock { s in
                s.requestCount += 1
                s.receivedMessages.append(lastUser)
                s.inFlight += 1
                s.maxInFlight = max(s.maxInFlight, s.inFlight)
                return s.requestCount
            }
            defer { state.withLock { $0.inFlight -= 1 } }

            switch responder(lastUser, number) {
            case let .reply(text):
                return write(fd, status: 200, contentType: "application/json", body: Self.completionBody(text, model: model, number: number), keepAlive: request.keepAlive)
            case let .status(code):
                return write(fd, status: code, contentType: "application/json", body: Self.errorBody(code), keepAlive: request.keepAlive)
            case .garbage:
                return write(fd, status: 200, contentType: "text/html", body: Array("<html><body>upstream proxy error</body></html>".utf8), keepAlive: request.keepAlive)
            case let .logprobs(alternatives):
                return write(
                    fd, status: 200, contentType: "application/json", body: Self.completionBody(alternatives.first?.token ?? "", model: model, number: number, alternatives: alternatives),
                    keepAlive: request.keepAlive)
            case let .hang(seconds):
                let deadline = Date().addingTimeInterval(seconds)
                while Date() < deadline, !isStopped {
                    Thread.sleep(forTimeInterval: min(0.01, max(0, deadline.timeIntervalSinceNow)))
                }
                if isStopped { return false }
                return write(fd, status: 200, contentType: "application/json", body: Self.completionBody("<label>no</label>", model: model, number: number), keepAlive: request.keepAlive)
            }
        }

        // MARK: Socket I/O

        /// Appends what `recv` returns; false on EOF, error or a shut-down socket.
        private func receive(_ fd: Int32, into buffer: inout [UInt8]) -> Bool {
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    buffer.append(contentsOf: chunk[..<n])
                    return true
                }
                if n < 0 && errno == EINTR { continue }
                return false
            }
        }

        private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { raw in
                    send(fd, raw.baseAddress! + offset, raw.count - offset, Self.sendFlags)
                }
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return false
                }
            }
            return true
        }

        /// Sends a complete response; returns whether the connection stays open.
        @discardableResult
        private func write(_ fd: Int32, status: Int, contentType: String, body: [UInt8], keepAlive: Bool) -> Bool {
            let head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
                + "Content-Type: \(contentType)\r\n"
                + "Content-Length: \(body.count)\r\n"
                + "Connection: \(keepAlive ? "keep-alive" : "close")\r\n\r\n"
            return sendAll(fd, Array(head.utf8) + body) && keepAlive
        }

        private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
            guard haystack.count >= needle.count else { return nil }
            for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
                if Array(haystack[start..<(start + needle.count)]) == needle { return start }
            }
            return nil
        }
    }
}
