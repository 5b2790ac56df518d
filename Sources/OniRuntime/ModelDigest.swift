import Foundation

/// The SHA-256 of a model file, which names a local model exactly (two GGUF files of the same
/// name — another quantisation, a re-download of a changed upload — never share labels).
///
/// Hashing half a gigabyte takes a second or two, so the digest is kept beside the file as
/// `FILE.sha256` (`HEX SIZE MTIME`) and computed again only when the file's size or time
/// changes. Computed with coreutils' `sha256sum`.
public enum ModelDigest {
    /// The lowercase hex digest of `path`, or nil when it cannot be computed (no such file, no
    /// `sha256sum`).
    public static func of(_ path: String) -> String? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = (attributes[.size] as? NSNumber)?.int64Value,
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970
        else { return nil }
        let stamp = "\(size) \(Int64(modified * 1000))"
        let sidecar = path + ".sha256"
        if let kept = try? String(contentsOfFile: sidecar, encoding: .utf8) {
            let parts = kept.split(separator: " ", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            if parts.count == 2, parts[1] == stamp, parts[0].count == 64, parts[0].allSatisfy(\.isHexDigit) { return parts[0] }
        }
        guard let digest = computed(path) else { return nil }
        try? "\(digest) \(stamp)\n".write(toFile: sidecar, atomically: true, encoding: .utf8)  // a read-only folder: computed next time too
        return digest
    }

    private static func computed(_ path: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = ["--", path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let word = String(decoding: data, as: UTF8.self).split(separator: " ").first,
            word.count == 64, word.allSatisfy(\.isHexDigit)
        else { return nil }
        return word.lowercased()
    }
}
