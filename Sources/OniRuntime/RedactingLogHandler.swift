import Logging
import OniCore

/// A log handler that removes credentials from URLs in messages and metadata before another
/// handler writes them (`Redaction.credentials`): an LLM server's URL with a password in it
/// never reaches a log.
public struct RedactingLogHandler<Inner: LogHandler>: LogHandler {
    public var inner: Inner

    public init(_ inner: Inner) { self.inner = inner }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = Logger.Message(stringLiteral: Redaction.credentials(in: event.message.description))
        event.metadata = event.metadata?.mapValues(Self.redacted)
        inner.log(event: event)
    }

    static func redacted(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case let .string(text): .string(Redaction.credentials(in: text))
        case let .stringConvertible(convertible): .string(Redaction.credentials(in: convertible.description))
        case let .array(values): .array(values.map(redacted))
        case let .dictionary(values): .dictionary(values.mapValues(redacted))
        }
    }
}
