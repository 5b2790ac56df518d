import Foundation
import OniCore
import OniTestSupport
@testable import OniTransport
import OniWire
import Testing

@Suite(.serialized) struct CurveTests {
    func keyDirectory(workers: Int = 0) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oni-keys-\(UUID().uuidString)").path
        try CurveSecurity.generateDirectory(dir, workers: workers)
        return dir
    }

    // MARK: Key files

    @Test func generatedKeysLoadAndTheClientIsAdmitted() throws {
        let dir = try keyDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try CurveSecurity.load(directory: dir, binds: true, connects: false)
        let client = try CurveSecurity.load(directory: dir, binds: false, connects: true)
        #expect(server.server != nil && server.client == nil)
        #expect(client.server == nil && client.client != nil)
        #expect(client.serverPublic == server.serverPublic)
        #expect(server.authorized == [client.client!.publicKey])
        #expect(server.serverPublic != client.client!.publicKey)

        let added = try CurveSecurity.addClient(dir, name: "worker-7")
        #expect(try CurveSecurity.load(directory: dir, binds: true, connects: false).authorized.contains(added))
        let other = try CurveSecurity.load(directory: dir, binds: false, connects: true, clientKey: dir + "/worker-7.key")
        #expect(other.client?.publicKey == added)

        // Secrets are private from the start; public files are not.
        for (name, mode) in [("server.key", 0o600), ("client.key", 0o600), ("worker-7.key", 0o600), ("server.pub", 0o644)] {
            let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/" + name)
            #expect((attributes[.posixPermissions] as? Int) == mode, "\(name)")
        }
        // Never overwritten.
        #expect(throws: CurveKeyError.exists(path: dir + "/server.key")) { try CurveSecurity.generateDirectory(dir) }
    }

    @Test func secretKeysOthersCanReadAreRefused() throws {
        let dir = try keyDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for mode in [0o644, 0o640, 0o604] {
            chmod(dir + "/client.key", mode_t(mode))
            #expect(throws: CurveKeyError.insecurePermissions(path: dir + "/client.key", mode: UInt16(mode))) {
                try CurveSecurity.load(directory: dir, binds: false, connects: true)
            }
        }
        chmod(dir + "/client.key", 0o400)
        _ = try CurveSecurity.load(directory: dir, binds: false, connects: true)
    }

    @Test func aListOfAdmittedKeysOthersCouldWriteIsRefused() throws {
        let dir = try keyDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/authorized_clients"
        for mode in [0o666, 0o664, 0o646, 0o620] {
            chmod(path, mode_t(mode))
            #expect(throws: CurveKeyError.writableByOthers(path: path, mode: UInt16(mode))) {
                try CurveSecurity.load(directory: dir, binds: true, connects: false)
            }
        }
        chmod(path, 0o644)
        #expect(try CurveSecurity.load(directory: dir, binds: true, connects: false).authorized.count == 1)
        // What is checked is the file that is read: a directory or a device in its place is refused.
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/dev/zero")
        #expect(throws: CurveKeyError.malformed(path: path, reason: "not a regular file")) {
            try CurveSecurity.load(directory: dir, binds: true, connects: false)
        }
    }

    @Test func everyWorkerHasItsOwnKeyAndAnExportHoldsNoServerSecret() throws {
        let dir = try keyDirectory(workers: 2)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try CurveSecurity.load(directory: dir, binds: true, connects: false)
        let shared = try CurveSecurity.load(directory: dir, binds: false, connects: true).client!.publicKey
        let one = try CurveSecurity.load(directory: dir, binds: false, connects: true, ownKeyName: "worker-1").client!.publicKey
        let zero = try CurveSecurity.load(directory: dir, binds: false, connects: true, ownKeyName: "worker-0").client!.publicKey
        #expect(Set([shared, one, zero]).count == 3 && server.authorized == [shared, one, zero])
        // A worker without a pair of its own uses the shared client pair.
        #expect(try CurveSecurity.load(directory: dir, binds: false, connects: true, ownKeyName: "worker-9").client!.publicKey == shared)

        let out = FileManager.default.temporaryDirectory.appendingPathComponent("oni-keys-export-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        try CurveSecurity.export(dir, name: "worker-1", to: out)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["server.pub", "worker-1.key", "worker-1.pub"])
        let exported = try CurveSecurity.load(directory: out, binds: false, connects: true, ownKeyName: "worker-1")
        #expect(exported.client!.publicKey == one && exported.serverPublic == server.serverPublic)
        #expect(throws: CurveKeyError.missing(path: out + "/server.key")) { try CurveSecurity.load(directory: out, binds: true, connects: false) }
        #expect((try FileManager.default.attributesOfItem(atPath: out + "/worker-1.key")[.posixPermissions] as? Int) == 0o600)
    }

    @Test func brokenKeyFilesAreNamedInTheError() throws {
        let dir = try keyDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A public file where a pair is needed.
        try FileManager.default.removeItem(atPath: dir + "/client.key")
        #expect(throws: CurveKeyError.missing(path: dir + "/client.key")) {
            try CurveSecurity.load(directory: dir, binds: false, connects: true)
        }
        try FileManager.default.copyItem(atPath: dir + "/client.pub", toPath: dir + "/client.key")
        chmod(dir + "/client.key", 0o600)
        #expect(throws: CurveKeyError.malformed(path: dir + "/client.key", reason: "no secret-key line (is this a .pub file?)")) {
            try CurveSecurity.load(directory: dir, binds: false, connects: true)
        }
        // A truncated secret.
        try "secret-key = abc\n".write(toFile: dir + "/client.key", atomically: false, encoding: .utf8)
        #expect(throws: CurveKeyError.malformed(path: dir + "/client.key", reason: "secret-key is not 40 Z85 characters")) {
            try CurveSecurity.load(directory: dir, binds: false, connects: true)
        }
        // A garbage line in authorized_clients, and one that lists nobody.
        try "# nobody\n\n".write(toFile: dir + "/authorized_clients", atomically: false, encoding: .utf8)
        #expect(throws: CurveKeyError.self) { try CurveSecurity.load(directory: dir, binds: true, connects: false) }
        try "not-a-key\n".write(toFile: dir + "/authorized_clients", atomically: false, encoding: .utf8)
        #expect(throws: CurveKeyError.malformed(path: dir + "/authorized_clients", reason: "line 1 is not a 40-character Z85 public key")) {
            try CurveSecurity.load(directory: dir, binds: true, connects: false)
        }
    }

    @Test func authorizedKeysMayContainTheHashCharacter() throws {
        // Z85's alphabet includes '#': a key is a line's first word, not the text before a '#'.
        var generator = SeededGenerator(seed: 5)
        var key: CurvePublicKey
        repeat {
            key = CurvePublicKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })!
        } while !key.z85.contains("#")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oni-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try CurveKeyFile.authorize(key, name: "hashy", directory: dir)
        #expect(try CurveKeyFile.readAuthorized(dir.appendingPathComponent("authorized_clients").path) == [key])
    }

    // MARK: Over real sockets

    /// A CURVE PULL server admitting `dir`'s client, and what reached it.
    struct Server {
        let context: ZMQContext
        let pull: MessageChannel
        let endpoint: String
    }

    func server(_ dir: String) throws -> Server {
        let context = try ZMQContext(security: CurveSecurity.load(directory: dir, binds: true, connects: false), logger: testLogger)
        let pull = try MessageChannel(transport: context, type: .pull, .bind("tcp://127.0.0.1:*"), name: "pull", accepts: [.hello], logger: testLogger)
        return Server(context: context, pull: pull, endpoint: try pull.lastEndpoint())
    }

    func hello(_ id: String) -> WireMessage {
        var hello = Oni_V1_Hello()
        hello.role = "worker"
        hello.id = id
        return .hello(hello)
    }

    /// Sends a Hello from a client on `context`; returns the socket (kept open so it keeps retrying).
    func send(from context: ZMQContext, to endpoint: String, id: String) throws -> MessageChannel {
        let push = try MessageChannel(
            transport: context, type: .push, .connect(endpoint), options: ChannelOptions(reconnectMilliseconds: (50, 200)),
            name: "push", accepts: [], logger: testLogger)
        try push.send(hello(id), dontWait: true)
        return push
    }

    func waitUntil(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition()
    }

    @Test func anAuthorizedClientTalksAndOnlyIt() throws {
        let dir = try keyDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try server(dir)
        defer { s.pull.close() }

        // Authorized: the message arrives.
        let good = try ZMQContext(security: CurveSecurity.load(directory: dir, binds: false, connects: true), logger: testLogger)
        let goodPush = try send(from: good, to: s.endpoint, id: "good")
        defer { goodPush.close() }
        guard case let .hello(received)? = try s.pull.receive(timeoutMilliseconds: 10_000) else {
            Issue.record("the authorized client's message did not arrive")
            return
        }
        #expect(received.id == "good")
        #expect(s.context.securityCounters?.admitted == 1)

        // A key pair that is not in authorized_clients: refused by ZAP, on both ends' counts.
        let strangerDir = try keyDirectory()
        defer { try? FileManager.default.removeItem(atPath: strangerDir) }
        let stranger = try ZMQContext(
            security: CurveSecurity(
                server: nil, client: CurveKeyFile.readPair(strangerDir + "/client.key"),
                serverPublic: CurveSecurity.load(directory: dir, binds: false, connects: true).serverPublic, authorized: []),
            logger: testLogger)
        let strangerPush = try send(from: stranger, to: s.endpoint, id: "stranger")
        defer { strangerPush.close() }
        #expect(waitUntil { (s.context.securityCounters?.refusedKeys ?? 0) >= 1 })
        #expect(waitUntil { (stranger.securityCounters?.refusedByServer ?? 0) >= 1 })

        // No CURVE at all: the handshake fails (mechanism mismatch).
        let plain = ZMQContext()
        let plainPush = try send(from: plain, to: s.endpoint, id: "plain")
        defer { plainPush.close() }
        #expect(waitUntil { (s.context.securityCounters?.failedHandshakes ?? 0) >= 1 })

        // The right client key but the wrong server key: it cannot even say hello.
        let before = s.context.securityCounters?.failedHandshakes ?? 0
        let wrongServer = try ZMQContext(
            security: CurveSecurity(
                server: nil, client: CurveKeyFile.readPair(dir + "/client.key"),
                serverPublic: CurveKeyFile.readPublic(strangerDir + "/server.pub"), authorized: []),
            logger: testLogger)
        let wrongPush = try send(from: wrongServer, to: s.endpoint, id: "wrong-server")
        defer { wrongPush.close() }
        #expect(waitUntil { (s.context.securityCounters?.failedHandshakes ?? 0) > before })

        // None of the three got a message through, while the good client still does.
        #expect(try s.pull.receive(timeoutMilliseconds: 500) == nil)
        try goodPush.send(hello("good-again"))
        guard case let .hello(again)? = try s.pull.receive(timeoutMilliseconds: 10_000) else {
            Issue.record("the authorized client's second message did not arrive")
            return
        }
        #expect(again.id == "good-again")
        #expect(s.context.securityCounters?.admitted == 1)
    }

    @Test func aServerWithoutCurveIsNotTalkedTo() throws {
        let dir = try keyDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plain = ZMQContext()
        let pull = try MessageChannel(transport: plain, type: .pull, .bind("tcp://127.0.0.1:*"), name: "pull", accepts: [.hello], logger: testLogger)
        defer { pull.close() }
        let client = try ZMQContext(security: CurveSecurity.load(directory: dir, binds: false, connects: true), logger: testLogger)
        let push = try send(from: client, to: try pull.lastEndpoint(), id: "x")
        defer { push.close() }
        #expect(waitUntil { (client.securityCounters?.failedHandshakes ?? 0) >= 1 })
        #expect(try pull.receive(timeoutMilliseconds: 300) == nil)
    }

    @Test func shortLivedSocketsLeaveNoWatcherBehind() throws {
        let dir = try keyDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try server(dir)
        defer { s.pull.close() }
        let client = try ZMQContext(security: CurveSecurity.load(directory: dir, binds: false, connects: true), logger: testLogger)
        // Like `oni health` or a status query: one socket per question.
        for i in 0..<30 {
            let push = try send(from: client, to: s.endpoint, id: "q\(i)")
            _ = try s.pull.receive(timeoutMilliseconds: 5000)
            push.close()
        }
        #expect(waitUntil { client.watchedSockets == 0 }, "\(client.watchedSockets) watchers left")
        #expect(s.context.watchedSockets == 1)
    }

    @Test func aClientOnlyProcessCannotBind() throws {
        let dir = try keyDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let client = try ZMQContext(security: CurveSecurity.load(directory: dir, binds: false, connects: true), logger: testLogger)
        let pull = try ZMQSocket(context: client, type: .pull)
        defer { pull.close() }
        #expect(throws: TransportError.self) { try pull.bind("tcp://127.0.0.1:*") }
    }
}
