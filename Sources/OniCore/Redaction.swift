/// Credentials kept out of what Oni prints and stores.
public enum Redaction {
    /// `text` with the user name and password of every URL in it replaced by `***`
    /// (`https://user:secret@host/v1` → `https://***@host/v1`); the rest unchanged.
    public static func credentials(in text: String) -> String {
        guard text.contains("@"), text.contains("://") else { return text }
        var result = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            result += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            // The authority runs to the first '/', '?', '#', white space or a character that ends a
            // URL written inside JSON, a quote or brackets; credentials end at its last '@'.
            let authorityEnd = rest.firstIndex { "/?#\"'<>\\,)]}`".contains($0) || $0.isWhitespace } ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                result += "***"
                rest = rest[at...]
            }
        }
        return result + rest
    }
}
