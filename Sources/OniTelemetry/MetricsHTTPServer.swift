import Foundation

/// A minimal HTTP/1.1 responder for Prometheus scrapes: `GET /metrics` answers 200 with the text
/// exposition, anything else 404; one request per connection. Runs on a thread of its own.
public final class MetricsHTTPServer: @unchecked Sendable {
    /// The port actually bound (the system's choice for port 0).
    public let port: Int
    public let host: String
    private let listener: Int32
    private let body: @Sendable () -> String
    private let stopped = NSLock()
    private var isStopped = false

    /// Listens on `address` (`HOST:PORT`; port 0 = the system chooses).
    public init(address: String, body: @escaping @Sendable () -> String) throws {
        guard let colon = address.lastIndex(of: ":"), let requested = UInt16(address[address.index(after: colon)...]) else {
            throw MetricsHTTPError("'\(address)' is not HOST:PORT")
        }
        host = String(address[..<colon])
        self.body = body
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        listener = fd
        guard fd >= 0 else { throw MetricsHTTPError("socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = requested.bigEndian
        guard inet_pton(AF_INET, host == "*" || host.isEmpty ? "0.0.0.0" : host, &socketAddress.sin_addr) == 1 else {
            close(listener)
            throw MetricsHTTPError("'\(host)' is not an IPv4 address")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &socketAddress) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(listener)
            throw MetricsHTTPError("cannot listen on \(address): \(reason)")
        }
        port = Int(UInt16(bigEndian: socketAddress.sin_port))
        let thread = Thread { [self] in serve() }
        thread.name = "oni-prometheus"
        thread.start()
    }

    /// Stops accepting scrapes.
    public func stop() {
        stopped.withLock { isStopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if stopped.withLock({ isStopped }) { return }
                if errno == EINTR { continue }
                return
            }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            answer(connection)
            close(connection)
        }
    }

    private func answer(_ connection: Int32) {
        // The request line and headers: read until the blank line (or 8 KiB).
        var request = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1024)
        while request.count < 8192 {
            let count = read(connection, &chunk, chunk.count)
            guard count > 0 else { break }
            request += chunk[..<count]
            if request.count >= 4 && request.suffix(4) == [13, 10, 13, 10] { break }
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        let found = line.count >= 2 && line[0] == "GET" && (line[1] == "/metrics" || line[1].hasPrefix("/metrics?"))
        let content = found ? body() : "not found; scrape /metrics\n"
        let head = "HTTP/1.1 \(found ? "200 OK" : "404 Not Found")\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            + "Content-Length: \(content.utf8.count)\r\nConnection: close\r\n\r\n"
        var bytes = Array((head + content).utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}

public struct MetricsHTTPError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
