import Foundation
import OniAnnotation
import OniCore
import OniTestSupport
import Testing

/// Messages asked sentence by sentence (`LabelUnit.sentence`): NetHack joins several messages
/// into one line with two spaces, and the line shows progress when one of them does.
@Suite struct SentenceLabelTests {
    @Test func aLineIsSplitWhereTheGameJoinedItsMessages() {
        let prompt = AnnotationPrompt(goal: .default, mode: .logprob, unit: .sentence)
        #expect(prompt.questions(in: "You kill the newt!  The jackal bites!") == ["You kill the newt!", "The jackal bites!"])
        #expect(prompt.questions(in: "  Ouch!  That hurts!   You hit it.  ") == ["Ouch!", "That hurts!", "You hit it."])
        #expect(prompt.questions(in: "The jackal bites!  The jackal bites!") == ["The jackal bites!"])
        #expect(prompt.questions(in: "You see here 5 gold pieces (for sale, 2 zorkmids).") == ["You see here 5 gold pieces (for sale, 2 zorkmids)."])
        #expect(prompt.questions(in: "   ") == [""])
        let whole = AnnotationPrompt(goal: .default, mode: .logprob, unit: .message)
        #expect(whole.questions(in: "You kill the newt!  The jackal bites!") == ["You kill the newt!  The jackal bites!"])
        // ONI's prompts ask about the whole message, as ONI does.
        #expect(AnnotationPrompt(goal: .default, style: .oni, unit: .sentence).unit == .message)
        // The unit is part of the template: labels decided per sentence never answer a whole-message question.
        #expect(prompt.templateHash != whole.templateHash)
        #expect(prompt.templateText.contains("per sentence") && !whole.templateText.contains("per sentence"))
    }

    /// A kill next to a monster's bite is progress; each sentence is asked once and cached, so the
    /// same sentences in another order, or next to others, are answered from the cache.
    @Test func anySentenceThatShowsProgressMakesTheLineProgress() async throws {
        let server = try FakeLLMServer { message, _ in .reply(message.contains("kill") ? "<label>yes</label>" : "<label>no</label>") }
        let backend = MessageLabelerTests.backend(server)
        let cache = MemoryLabelCache()
        let prompt = AnnotationPrompt(goal: .default, unit: .sentence)
        let labeler = MessageLabeler(backend: backend, prompt: prompt, cache: cache)
        let first = await labeler.label([AnnotationItem(messageID: 1, text: "You kill the newt!  The jackal bites!")])
        #expect(first.first?.outcome == .labelled(value: 1, confidence: 1))
        #expect(first.first?.promptHash == prompt.templateHash)
        #expect(first.first?.reply.contains("[You kill the newt!] <label>yes</label>") == true)
        #expect(server.requestCount == 2)
        #expect(Set(server.receivedMessages.map { $0.replacingOccurrences(of: "Game message: ", with: "") }) == ["You kill the newt!", "The jackal bites!"])

        let again = await labeler.label([
            AnnotationItem(messageID: 2, text: "The jackal bites!  You kill the newt!"),
            AnnotationItem(messageID: 3, text: "The jackal bites!  It's a wall."),
        ])
        #expect(again.map(\.outcome) == [.labelled(value: 1, confidence: 1), .labelled(value: 0, confidence: 1)])
        #expect(server.requestCount == 3)  // only "It's a wall." was new
        #expect(server.receivedMessages.last?.contains("It's a wall.") == true)
    }

    @Test func sentencesAreCombinedByTheirMostLikelyProgress() {
        let kill = LabelOutcome.labelled(value: 1, confidence: 0.9)  // P(yes) 0.9
        let bite = LabelOutcome.labelled(value: 0, confidence: 0.8)  // P(yes) 0.2
        let unsure = LabelOutcome.labelled(value: 0, confidence: 0.6)  // P(yes) 0.4
        let down = LabelOutcome.backendError(reason: "server down")
        let garbled = LabelOutcome.unparseable(reason: "no label")
        #expect(MessageLabeler.anySentence([bite, kill]) == kill)
        // A failed sentence cannot undo a found kill, but it can hide a "no": asked again later.
        #expect(MessageLabeler.anySentence([down, kill, garbled]) == kill)
        #expect(MessageLabeler.anySentence([bite, garbled, down]) == down)
        #expect(MessageLabeler.anySentence([bite, garbled]) == garbled)
        // Every sentence a no: the no closest to yes, so the confidence is 1 − the highest P(yes).
        #expect(MessageLabeler.anySentence([bite, unsure]) == unsure)
        #expect(MessageLabeler.anySentence([]) == .unparseable(reason: "no sentence"))
    }
}
