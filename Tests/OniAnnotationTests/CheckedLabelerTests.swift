import OniAnnotation
import OniCore
import Testing

@Suite struct CheckedLabelerTests {
    let yes = LabelOutcome.labelled(value: 1, confidence: 0.9)
    let yesUnsure = LabelOutcome.labelled(value: 1, confidence: 0.6)
    let no = LabelOutcome.labelled(value: 0, confidence: 0.8)
    let garbled = LabelOutcome.unparseable(reason: "no label")
    let down = LabelOutcome.backendError(reason: "HTTP 503")

    @Test func agreeKeepsOnlyMatchingAnswers() {
        let modes: [LabelMode] = [.logprob, .tagged]
        #expect(CheckedLabeler.decide([yes, yesUnsure], check: .agree, modes: modes) == .labelled(value: 1, confidence: 0.6))
        #expect(CheckedLabeler.decide([no, no], check: .agree, modes: modes) == .labelled(value: 0, confidence: 0.8))
        // A disagreement leaves the message unlabelled, as its own outcome (settled, not retried).
        #expect(CheckedLabeler.decide([yes, no], check: .agree, modes: modes) == .disagreed(reason: "logprob yes, tagged no"))
        // A failure is not a disagreement: the server's error wins (the learner asks again), then a garbled reply.
        #expect(CheckedLabeler.decide([yes, down], check: .agree, modes: modes) == down)
        #expect(CheckedLabeler.decide([yes, garbled], check: .agree, modes: modes) == garbled)
    }

    @Test func voteTakesTheMajorityOfTheLabels() {
        let modes: [LabelMode] = [.logprob, .tagged, .logprob]
        #expect(CheckedLabeler.decide([yes, no, yesUnsure], check: .vote, modes: modes) == .labelled(value: 1, confidence: 0.6))
        #expect(CheckedLabeler.decide([no, no, yes], check: .vote, modes: modes) == .labelled(value: 0, confidence: 0.8))
        // Two labels that disagree and a garbled third: no majority.
        #expect(CheckedLabeler.decide([yes, no, garbled], check: .vote, modes: modes) == .disagreed(reason: "logprob yes, tagged no, logprob none"))
        // Two agreeing labels outvote a failed asking.
        #expect(CheckedLabeler.decide([yes, down, yes], check: .vote, modes: modes) == .labelled(value: 1, confidence: 0.9))
        #expect(CheckedLabeler.decide([yes, down, garbled], check: .vote, modes: modes) == down)
    }
}
