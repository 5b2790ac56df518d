import Foundation

/// The CURVE keys of one process, read from a key directory made by `oni keys generate`.
///
/// Servers (sockets that bind) use `server.key` and admit only the clients listed in
/// `authorized_clients`; clients (sockets that connect) use their own pair (`client.key` by
/// default) and check the server against `server.pub`. Keys are only ever read from files.
public struct CurveSecurity: Sendable {
    /// The key directory's file names.
    public enum FileName {
        public static let serverPair = "server.key"
        public static let serverPublic = "server.pub"
        public static let clientPair = "client.key"
        public static let authorized = "authorized_clients"
    }

    /// Present when this process binds sockets.
    public let server: CurveKeyPair?
    /// Present when this process connects sockets.
    public let client: CurveKeyPair?
    /// The server key clients expect.
    public let serverPublic: CurvePublicKey
    /// Client keys a server admits.
    public let authorized: Set<CurvePublicKey>

    public init(server: CurveKeyPair?, client: CurveKeyPair?, serverPublic: CurvePublicKey, authorized: Set<CurvePublicKey>) {
        self.server = server
        self.client = client
        self.serverPublic = serverPublic
        self.authorized = authorized
    }

    /// Reads what a process needs from `directory`: the server pair and the authorized
    /// clients if it `binds`, its client pair if it `connects`: `clientKey` when given, else
    /// `OWN.key` when the directory has a pair named for this process (`ownKeyName`, a worker's
    /// id: `oni keys generate` makes one per worker), else `client.key`.
    public static func load(
        directory: String, binds: Bool, connects: Bool, clientKey: String? = nil, ownKeyName: String? = nil
    ) throws(CurveKeyError) -> CurveSecurity {
        let dir = URL(fileURLWithPath: directory)
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let own = ownKeyName.map { path("\($0).key") }.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
        let clientKey = clientKey ?? own
        var server: CurveKeyPair?
        if binds { server = try CurveKeyFile.readPair(path(FileName.serverPair)) }
        let serverPublic: CurvePublicKey
        if let server { serverPublic = server.publicKey } else { serverPublic = try CurveKeyFile.readPublic(path(FileName.serverPublic)) }
        var client: CurveKeyPair?
        if connects { client = try CurveKeyFile.readPair(clientKey ?? path(FileName.clientPair)) }
        var authorized = Set<CurvePublicKey>()
        if binds {
            authorized = try CurveKeyFile.readAuthorized(path(FileName.authorized))
            if authorized.isEmpty {
                throw .malformed(path: path(FileName.authorized), reason: "lists no client key, so no client could connect")
            }
        }
        return CurveSecurity(server: server, client: client, serverPublic: serverPublic, authorized: authorized)
    }

    /// Makes a key directory: a server pair, a client pair named `client` (the learner's, toward
    /// the annotator, and the tools'), one pair per worker (`worker-0` … `worker-N-1`, so that
    /// one worker's key can be revoked alone), and an `authorized_clients` file admitting them.
    /// Refuses to overwrite existing keys.
    public static func generateDirectory(_ directory: String, workers: Int = 4) throws(CurveKeyError) {
        let dir = URL(fileURLWithPath: directory)
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch { throw .unreadable(path: directory, reason: "cannot create the directory: \(error.localizedDescription)") }
        let server = try CurveKeyPair.generate()
        try CurveKeyFile.write(server, name: "server", directory: dir, comment: "the servers' pair (learner, annotator)")
        try addClient(directory, name: "client")
        for k in 0..<workers { try addClient(directory, name: "worker-\(k)") }
    }

    /// Copies what one client needs into `destination` (created 0700): the servers' public key
    /// and the client's pair `NAME.key`/`NAME.pub`, nothing else (no server secret, no other
    /// client's key). `--curve DESTINATION` on a worker whose id is NAME then uses that pair.
    public static func export(_ directory: String, name: String, to destination: String) throws(CurveKeyError) {
        let dir = URL(fileURLWithPath: directory), out = URL(fileURLWithPath: destination)
        let pair = try CurveKeyFile.readPair(dir.appendingPathComponent("\(name).key").path)
        let serverPublic = try CurveKeyFile.readPublic(dir.appendingPathComponent(FileName.serverPublic).path)
        do {
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch { throw .unreadable(path: destination, reason: "cannot create the directory: \(error.localizedDescription)") }
        try CurveKeyFile.write(pair, name: name, directory: out, comment: "client \(name)")
        try CurveKeyFile.writePublic(serverPublic, name: "server", directory: out, comment: "the servers' public key")
    }

    /// Makes a client pair `NAME.key`/`NAME.pub` in `directory` and admits it in `authorized_clients`.
    @discardableResult
    public static func addClient(_ directory: String, name: String) throws(CurveKeyError) -> CurvePublicKey {
        let dir = URL(fileURLWithPath: directory)
        let pair = try CurveKeyPair.generate()
        try CurveKeyFile.write(pair, name: name, directory: dir, comment: "client \(name)")
        try CurveKeyFile.authorize(pair.publicKey, name: name, directory: dir)
        return pair.publicKey
    }
}
