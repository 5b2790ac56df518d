import Foundation

/// Reading the run's messages and pairs with their current labels and judgements.
extension RunStore {
    /// A stored message with its count and latest label.
    public struct MessageRow: Sendable, Hashable {
        public var id: UInt64
        public var text: String
        public var count: Int64
        public var firstSeenEnvSteps: UInt64
        /// The latest successful label, if any.
        public var label: Float?
        /// The model's confidence in that label (1 when it said none).
        public var confidence: Float = 1
        /// Annotation is over for this message: it has a label, or the model's reply had none.
        public var settled: Bool
        /// Times the annotator failed on it (server errors, not the model's answers).
        public var failures = 0
    }

    /// A stored pair with its latest judgement.
    public struct PairRow: Sendable, Hashable {
        public var id: UInt64
        public var firstID: UInt64
        public var secondID: UInt64
        public var createdEnvSteps: UInt64
        /// 1 (the first shows more progress), 0 (the second) or 0.5 (a tie), once judged.
        public var preference: Float?
        /// The LLM has answered (with a judgement, or with a reply that held none).
        public var settled: Bool
        /// Times the annotator failed on it (server errors, not the model's answers).
        public var failures = 0

        public init(id: UInt64, firstID: UInt64, secondID: UInt64, createdEnvSteps: UInt64, preference: Float?, settled: Bool, failures: Int = 0) {
            self.id = id
            self.firstID = firstID
            self.secondID = secondID
            self.createdEnvSteps = createdEnvSteps
            self.preference = preference
            self.settled = settled
            self.failures = failures
        }
    }

    /// Every stored pair, by id, with its latest judgement.
    public func pairs() throws(StorageError) -> [PairRow] {
        let s = try database.prepare(
            """
            SELECT p.id, p.first_id, p.second_id, p.created_env_steps, pp.preference,
                   EXISTS (SELECT 1 FROM pair_labels WHERE pair_id = p.id AND status IN \(StoredOutcome.settlingList)),
                   (SELECT count(*) FROM pair_labels WHERE pair_id = p.id AND status = 'backend_error')
            FROM pairs p JOIN pair_preferences pp ON pp.id = p.id ORDER BY p.id
            """)
        var rows: [PairRow] = []
        while try s.step() {
            rows.append(
                PairRow(
                    id: UInt64(s.int(0)), firstID: UInt64(s.int(1)), secondID: UInt64(s.int(2)), createdEnvSteps: UInt64(s.int(3)),
                    preference: s.isNull(4) ? nil : Float(s.double(4)), settled: s.int(5) != 0, failures: Int(s.int(6))))
        }
        return rows
    }

    /// Every stored message, by id, with its latest label.
    public func messages() throws(StorageError) -> [MessageRow] {
        let s = try database.prepare(
            """
            SELECT m.id, m.text, m.count, m.first_seen_env_steps, ml.label, ml.confidence,
                   EXISTS (SELECT 1 FROM labels WHERE message_id = m.id AND status IN \(StoredOutcome.settlingList)),
                   (SELECT count(*) FROM labels WHERE message_id = m.id AND status = 'backend_error')
            FROM messages m JOIN message_labels ml ON ml.id = m.id ORDER BY m.id
            """)
        var rows: [MessageRow] = []
        while try s.step() {
            rows.append(
                MessageRow(
                    id: UInt64(s.int(0)), text: s.text(1), count: s.int(2), firstSeenEnvSteps: UInt64(s.int(3)),
                    label: s.isNull(4) ? nil : Float(s.double(4)), confidence: s.isNull(5) ? 1 : Float(s.double(5)), settled: s.int(6) != 0,
                    failures: Int(s.int(7))))
        }
        return rows
    }
}
