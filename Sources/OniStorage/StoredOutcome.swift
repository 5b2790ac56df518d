import OniCore

/// How a label's (or a pair judgement's) outcome is kept in the store: its `status` text and
/// the columns it fills. One place for the statuses the store knows and which of them settle a
/// message (annotation over: a label, or a reply that gives none) — a server's failure does not.
struct StoredOutcome {
    let status: String
    /// The label or preference; NULL when there is none.
    let value: SQLiteValue
    /// The model's confidence in a label; NULL when there is none.
    let confidence: SQLiteValue
    /// Why there is no label; NULL when there is one.
    let error: SQLiteValue

    init(_ outcome: LabelOutcome) {
        switch outcome {
        case let .labelled(value, confidence):
            (status, self.value, self.confidence, error) = ("labelled", .double(Double(value)), .double(Double(confidence)), .null)
        case let .unparseable(reason): (status, value, confidence, error) = ("unparseable", .null, .null, .text(reason))
        case let .disagreed(reason): (status, value, confidence, error) = ("disagreed", .null, .null, .text(reason))
        case let .backendError(reason): (status, value, confidence, error) = ("backend_error", .null, .null, .text(reason))
        }
    }

    /// Statuses that end a subject's annotation.
    static let settling = ["labelled", "unparseable", "disagreed"]
    /// Every status the store writes.
    static let all = settling + ["backend_error"]
    /// As SQL lists: `('labelled', 'unparseable', …)`.
    static let settlingList = sqlList(settling), allList = sqlList(all)

    private static func sqlList(_ statuses: [String]) -> String { "(" + statuses.map { "'\($0)'" }.joined(separator: ", ") + ")" }
}
