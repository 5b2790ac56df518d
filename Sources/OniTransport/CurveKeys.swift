import CZeroMQ
import Foundation

/// Errors reading or writing CURVE keys. Each names the file and what is wrong with it.
public enum CurveKeyError: Error, Equatable, Sendable, CustomStringConvertible {
    case unavailable(String)
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case insecurePermissions(path: String, mode: UInt16)
    case wrongOwner(path: String, owner: UInt32)
    /// A list of admitted keys others could write to (any local user could admit a key).
    case writableByOthers(path: String, mode: UInt16)
    /// A list of admitted keys owned by neither the reader nor root.
    case listOwnedByOther(path: String, owner: UInt32)
    case exists(path: String)

    public var description: String {
        switch self {
        case let .unavailable(reason): "CURVE is unavailable: \(reason)"
        case let .missing(path): "\(path): no such key file (make keys with `oni keys generate DIR`)"
        case let .unreadable(path, reason): "\(path): cannot read the key file: \(reason)"
        case let .malformed(path, reason): "\(path): not an Oni key file: \(reason)"
        case let .insecurePermissions(path, mode):
            "\(path): a secret key must be readable by its owner only, but its mode is \(String(mode, radix: 8)) (chmod 600 \(path))"
        case let .wrongOwner(path, owner): "\(path): a secret key must belong to the user reading it (uid \(getuid())), not uid \(owner)"
        case let .writableByOthers(path, mode):
            "\(path): the keys servers admit must be writable by their owner only, but its mode is \(String(mode, radix: 8)) (chmod 644 \(path))"
        case let .listOwnedByOther(path, owner):
            "\(path): the keys servers admit must belong to the user reading them (uid \(getuid())) or root, not uid \(owner)"
        case let .exists(path): "\(path) exists already; remove it first or pick another directory"
        }
    }
}

/// A CURVE public key: 32 bytes, written as 40 characters of ZeroMQ's Z85.
public struct CurvePublicKey: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(z85: String) {
        guard let bytes = Z85.decode(z85), bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    public var z85: String { Z85.encode(bytes) }
    public var description: String { z85 }
}

/// A CURVE key pair. The secret half never leaves its file and this value.
public struct CurveKeyPair: Sendable {
    public let publicKey: CurvePublicKey
    let secretBytes: [UInt8]

    /// A new random key pair from libzmq (libsodium or tweetnacl).
    public static func generate() throws(CurveKeyError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw .unavailable("this libzmq was built without CURVE (zmq_curve_keypair failed)")
        }
        let secret = Z85.text(secretText)
        guard let pair = CurveKeyPair(secretZ85: secret) else { throw .unavailable("libzmq returned an invalid key") }
        return pair
    }

    /// The pair of a secret key (the public half is derived from it).
    public init?(secretZ85: String) {
        guard let secret = Z85.decode(secretZ85), secret.count == 32 else { return nil }
        var publicText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicText, secretZ85) == 0,
            let publicKey = CurvePublicKey(z85: Z85.text(publicText))
        else { return nil }
        self.publicKey = publicKey
        self.secretBytes = secret
    }
}

/// ZeroMQ's Z85 text encoding of binary keys (sizes a multiple of 4 bytes).
enum Z85 {
    static func encode(_ bytes: [UInt8]) -> String {
        precondition(bytes.count % 4 == 0)
        var out = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        _ = zmq_z85_encode(&out, bytes, bytes.count)
        return text(out)
    }

    /// The characters of a NUL-terminated C buffer.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        guard text.utf8.count % 5 == 0, !text.isEmpty else { return nil }
        var out = [UInt8](repeating: 0, count: text.utf8.count * 4 / 5)
        guard zmq_z85_decode(&out, text) != nil else { return nil }
        return out
    }
}

/// Oni's key files: small text files of `name = value` lines.
///
/// `NAME.key` holds a pair (`public-key` and `secret-key`; mode 0600, checked on every read),
/// `NAME.pub` the public key alone, and `authorized_clients` the public keys servers admit,
/// one per line, optionally followed by a name (lines starting with `#` are comments).
public enum CurveKeyFile {
    /// Writes `NAME.key` (0600) and `NAME.pub` (0644) into `directory`; refuses to overwrite.
    public static func write(_ pair: CurveKeyPair, name: String, directory: URL, comment: String) throws(CurveKeyError) {
        let secretPath = directory.appendingPathComponent("\(name).key").path
        let publicPath = directory.appendingPathComponent("\(name).pub").path
        for path in [secretPath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw .exists(path: path)
        }
        let secret = """
            # Oni CURVE key pair (ZeroMQ Z85): \(comment)
            # Secret: keep it readable by its owner only (mode 600).
            public-key = \(pair.publicKey.z85)
            secret-key = \(Z85.encode(pair.secretBytes))

            """
        try create(secretPath, contents: secret, mode: 0o600)
        try writePublic(pair.publicKey, name: name, directory: directory, comment: comment)
    }

    /// Writes `NAME.pub` (0644) alone into `directory`; refuses to overwrite.
    public static func writePublic(_ key: CurvePublicKey, name: String, directory: URL, comment: String) throws(CurveKeyError) {
        let text = """
            # Oni CURVE public key (ZeroMQ Z85): \(comment)
            public-key = \(key.z85)

            """
        try create(directory.appendingPathComponent("\(name).pub").path, contents: text, mode: 0o644)
    }

    /// Adds `key` to the `authorized_clients` file of `directory` (created 0644 if missing).
    public static func authorize(_ key: CurvePublicKey, name: String, directory: URL) throws(CurveKeyError) {
        let path = directory.appendingPathComponent("authorized_clients").path
        let line = "\(key.z85)  \(name)\n"
        if !FileManager.default.fileExists(atPath: path) {
            try create(path, contents: "# Client keys the servers admit, one per line (oni keys add-client DIR NAME).\n" + line, mode: 0o644)
            return
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw .unreadable(path: path, reason: "cannot open for writing") }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(line.utf8))
        } catch { throw .unreadable(path: path, reason: "\(error)") }
    }

    /// Reads a key pair, refusing a file others could read or that belongs to someone else
    /// (checked on the open file, so it cannot be swapped between the check and the read).
    public static func readPair(_ path: String) throws(CurveKeyError) -> CurveKeyPair {
        let fields = try readFields(path, check: checkPrivate)
        guard let secret = fields["secret-key"] else { throw .malformed(path: path, reason: "no secret-key line (is this a .pub file?)") }
        guard let pair = CurveKeyPair(secretZ85: secret) else { throw .malformed(path: path, reason: "secret-key is not 40 Z85 characters") }
        if let stated = fields["public-key"], stated != pair.publicKey.z85 {
            throw .malformed(path: path, reason: "public-key does not belong to secret-key")
        }
        return pair
    }

    /// Reads the public key of a `.pub` or `.key` file.
    public static func readPublic(_ path: String) throws(CurveKeyError) -> CurvePublicKey {
        let fields = try readFields(path)
        guard let text = fields["public-key"] else { throw .malformed(path: path, reason: "no public-key line") }
        guard let key = CurvePublicKey(z85: text) else { throw .malformed(path: path, reason: "public-key is not 40 Z85 characters") }
        return key
    }

    /// Reads an `authorized_clients` file: one Z85 key per line (then optionally a name),
    /// `#` comment lines and blank lines ignored.
    /// The file must belong to the reader or root and be writable by its owner only.
    public static func readAuthorized(_ path: String) throws(CurveKeyError) -> Set<CurvePublicKey> {
        let text = try readText(path, check: checkAdmitting)
        var keys = Set<CurvePublicKey>()
        for (number, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            // Z85 uses '#', so a comment is a whole line; the key is a line's first word, a name may follow.
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let word = String(trimmed.prefix(while: { !$0.isWhitespace }))
            guard let key = CurvePublicKey(z85: word) else {
                throw .malformed(path: path, reason: "line \(number + 1) is not a 40-character Z85 public key")
            }
            keys.insert(key)
        }
        return keys
    }

    /// A secret's file: its owner's alone.
    static func checkPrivate(_ path: String, _ info: stat) throws(CurveKeyError) {
        let mode = UInt16(info.st_mode & 0o777)
        if mode & 0o077 != 0 { throw .insecurePermissions(path: path, mode: mode) }
        // root may read any file, but a key owned by another user is still a sign of a mix-up.
        if info.st_uid != geteuid() { throw .wrongOwner(path: path, owner: info.st_uid) }
    }

    /// The list of admitted keys: anyone may read it, only its owner (the reader or root) write it.
    static func checkAdmitting(_ path: String, _ info: stat) throws(CurveKeyError) {
        let mode = UInt16(info.st_mode & 0o777)
        if mode & 0o022 != 0 { throw .writableByOthers(path: path, mode: mode) }
        if info.st_uid != geteuid() && info.st_uid != 0 { throw .listOwnedByOther(path: path, owner: info.st_uid) }
    }

    private static func readFields(
        _ path: String, check: (String, stat) throws(CurveKeyError) -> Void = { _, _ in }
    ) throws(CurveKeyError) -> [String: String] {
        var fields: [String: String] = [:]
        for raw in try readText(path, check: check).split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw .malformed(path: path, reason: "expected `name = value`, got \(line.prefix(60))") }
            fields[parts[0]] = parts[1]
        }
        return fields
    }

    /// Opens `path` once, applies `check` to what `fstat` says of the open descriptor, and reads
    /// that same descriptor: what was checked is what is read. Refuses anything but a regular
    /// file of under 1 MiB.
    private static func readText(
        _ path: String, check: (String, stat) throws(CurveKeyError) -> Void = { _, _ in }
    ) throws(CurveKeyError) -> String {
        // Non-blocking: a FIFO put where a key should be would block the open (it is refused below).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ENOENT { throw .missing(path: path) }
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .malformed(path: path, reason: "not a regular file") }
        try check(path, info)
        guard info.st_size < 1 << 20 else { throw .malformed(path: path, reason: "not a small UTF-8 text file") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
            if got == 0 { break }
            count += got
        }
        guard count < bytes.count, let text = String(bytes: bytes[..<count], encoding: .utf8) else {
            throw .malformed(path: path, reason: "not a small UTF-8 text file")
        }
        return text
    }

    private static func create(_ path: String, contents: String, mode: mode_t) throws(CurveKeyError) {
        // Created with its final mode, so a secret is never readable by others, not even briefly.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else {
            if errno == EEXIST { throw .exists(path: path) }
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        _ = fchmod(fd, mode)  // the umask may have narrowed it; make it exact
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw .unreadable(path: path, reason: "short write") }
    }
}
