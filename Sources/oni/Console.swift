import Foundation
import OniCore

/// Unbuffered output, so progress shows at once even through a pipe. Output that has gone away
/// (`oni run … | tee log` with `tee` stopped first) is let go: the command goes on and stops in
/// order rather than dying on its next line (SIGPIPE is ignored, see `Oni.main`).
enum Console {
    static func line(_ text: String) {
        write(text + "\n")
    }

    /// Writes `text` (no newline added), credentials in URLs removed.
    static func write(_ text: String) {
        var bytes = Array(Redaction.credentials(in: text).utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
