import OniCore

extension AnnotationItem {
    public var wire: Oni_V1_AnnotationItem {
        var w = Oni_V1_AnnotationItem()
        w.messageID = messageID
        w.text = text
        if let secondText { w.secondText = secondText }
        return w
    }

    public init(wire: Oni_V1_AnnotationItem) {
        self.init(messageID: wire.messageID, text: wire.text, secondText: wire.hasSecondText ? wire.secondText : nil)
    }
}

extension AnnotationResult {
    public var wire: Oni_V1_AnnotationResult {
        var w = Oni_V1_AnnotationResult()
        w.messageID = messageID
        w.model = model
        w.promptHash = promptHash
        w.reply = String(reply.prefix(Self.maxReplyCharacters))
        switch outcome {
        case let .labelled(value, confidence):
            w.status = .labelled
            w.label = value
            w.confidence = confidence
        case let .unparseable(reason):
            w.status = .unparseable
            w.error = reason
        case let .backendError(reason):
            w.status = .backendError
            w.error = reason
        case let .disagreed(reason):
            w.status = .disagreed
            w.error = reason
        }
        return w
    }

    public init(wire: Oni_V1_AnnotationResult) throws(WireConversionError) {
        let outcome: LabelOutcome
        switch wire.status {
        case .labelled:
            guard wire.label.isFinite, wire.confidence.isFinite else {
                throw WireConversionError("annotation result for message \(wire.messageID) has a non-finite label")
            }
            outcome = .labelled(value: wire.label, confidence: wire.confidence)
        case .unparseable: outcome = .unparseable(reason: wire.error)
        case .backendError: outcome = .backendError(reason: wire.error)
        case .disagreed: outcome = .disagreed(reason: wire.error)
        case .unspecified, .UNRECOGNIZED:
            throw WireConversionError("annotation result for message \(wire.messageID) has no status")
        }
        self.init(messageID: wire.messageID, outcome: outcome, model: wire.model, promptHash: wire.promptHash, reply: wire.reply)
    }
}
