import OniCore
import OniRuntime
import OniWire
import Testing

/// The learner's annotation client, with no socket: requests built, paused and answered by subject.
@Suite struct AnnotationClientTests {
    @Test func subjectsTravelAsOneIdAndComeBackTyped() {
        for subject in [AnnotationSubject.message(0), .message(41), .pair(0), .pair(41)] {
            #expect(AnnotationSubject(wireID: subject.wireID) == subject)
        }
        #expect(AnnotationSubject.message(7).wireID != AnnotationSubject.pair(7).wireID)
    }

    @Test func requestsCarryTheTextsMostSeenFirstAndSkipWhatWasAnswered() throws {
        var client = AnnotationClient(batchSize: 2, maxInFlight: 4, timeout: 60)
        let texts: [AnnotationSubject: (String, String?)] = [.message(1): ("You see a key.", nil), .message(2): ("It's a wall.", nil), .pair(1): ("A", "B")]
        var answered: Set<AnnotationSubject> = [.message(3)]
        for subject in [AnnotationSubject.message(1), .message(2), .pair(1), .message(3)] { client.ask(about: subject) }
        client.ask(about: .message(1))  // already waiting: once
        let seen: [AnnotationSubject: Int64] = [.message(1): 5, .message(2): 9, .pair(1): 7, .message(3): 1]
        let lookup = { (subject: AnnotationSubject) in answered.contains(subject) ? nil : texts[subject].map { (text: $0.0, second: $0.1) } }
        let made = client.nextRequest(now: 0, goal: "default", texts: lookup, priority: { seen[$0] ?? 0 })
        let first = try #require(made)
        #expect(first.items.map(\.messageID) == [AnnotationSubject.message(2).wireID, AnnotationSubject.pair(1).wireID])
        #expect(first.items[1].text == "A" && first.items[1].secondText == "B" && first.goal == "default")
        answered.insert(.message(1))
        // message(1) and message(3) were answered meanwhile: their request would be empty and is not sent.
        let none = client.nextRequest(now: 0, goal: "default", texts: lookup, priority: { seen[$0] ?? 0 })
        #expect(none == nil)
        #expect(client.queue.waitingCount == 0 && client.queue.inFlightCount == 1)
    }

    @Test func aReplyInPartsAnswersItsSubjectsAsTheyCome() throws {
        var client = AnnotationClient(batchSize: 3, maxInFlight: 1, timeout: 60)
        for id: UInt64 in 1...3 { client.ask(about: .message(id)) }
        let texts = { (_: AnnotationSubject) in (text: "hello", second: String?.none) }
        let made = client.nextRequest(now: 0, goal: "g", texts: texts, priority: { _ in 0 })
        let request = try #require(made)
        #expect(request.acceptsPartial, "this learner says it takes parts")
        func reply(_ ids: [UInt64], partial: Bool) -> Oni_V1_AnnotationReply {
            var reply = Oni_V1_AnnotationReply()
            reply.requestID = request.requestID
            reply.partial = partial
            reply.results = ids.map {
                AnnotationResult(messageID: $0, outcome: .labelled(value: 1, confidence: 1), model: "m", promptHash: "h", reply: "yes").wire
            }
            return reply
        }
        let part = client.take(reply([2], partial: true), now: 50)
        #expect(part.expected && part.answers.count == 1)
        #expect(client.queue.pendingCount == 2 && client.queue.inFlightCount == 1, "1 and 3 still pending")
        #expect(client.nextRequest(now: 100, goal: "g", texts: texts, priority: { _ in 0 }) == nil, "answered at 50: not timed out at 100")
        let rest = client.take(reply([1, 3], partial: false), now: 101)
        #expect(rest.expected && rest.answers.count == 2)
        #expect(client.queue.pendingCount == 0 && client.queue.inFlightCount == 0)
    }

    @Test func anUnsentRequestPausesAndIsAskedAgain() throws {
        var client = AnnotationClient(batchSize: 4, maxInFlight: 4, timeout: 60)
        client.ask(about: .message(1))
        let texts = { (_: AnnotationSubject) in (text: "hello", second: String?.none) }
        let made = client.nextRequest(now: 10, goal: "g", texts: texts, priority: { _ in 0 })
        let request = try #require(made)
        client.couldNotSend(request, now: 10)
        let paused = client.nextRequest(now: 10.1, goal: "g", texts: texts, priority: { _ in 0 })
        #expect(paused == nil)
        let later = client.nextRequest(now: 10.3, goal: "g", texts: texts, priority: { _ in 0 })
        let again = try #require(later)
        #expect(again.items.map(\.messageID) == [1])
    }

    @Test func repliesAreTakenBySubjectAndLateOnesSaySo() throws {
        var client = AnnotationClient(batchSize: 4, maxInFlight: 4, timeout: 5)
        client.ask(about: .message(3))
        client.ask(about: .pair(9))
        let made = client.nextRequest(now: 0, goal: "g", texts: { _ in (text: "t", second: "u") }, priority: { _ in 0 })
        let request = try #require(made)
        var reply = Oni_V1_AnnotationReply()
        reply.requestID = request.requestID
        reply.results = [
            AnnotationResult(messageID: AnnotationSubject.message(3).wireID, outcome: .labelled(value: 1, confidence: 0.9), model: "m", promptHash: "h", reply: "yes").wire,
            AnnotationResult(messageID: AnnotationSubject.pair(9).wireID, outcome: .labelled(value: 0.25, confidence: 1), model: "m", promptHash: "h", reply: "second").wire,
            {
                var broken = Oni_V1_AnnotationResult()
                broken.messageID = 4
                return broken  // no status
            }(),
        ]
        let (expected, answers) = client.take(reply, now: 1)
        #expect(expected)
        guard answers.count == 3, case let .result(first, label) = answers[0], case let .result(second, preference) = answers[1], case .invalid = answers[2] else {
            Issue.record("\(answers)")
            return
        }
        #expect(first == .message(3) && label.messageID == 3)
        #expect(second == .pair(9) && preference.messageID == 9, "kept under the pair's own id")
        // The same reply again, after its request was answered: late, and still read.
        let late = client.take(reply, now: 2)
        #expect(late.expected == false)
        client.failed(.message(3), now: 2)
        #expect(client.queue.waitingCount == 1, "a failed subject waits for its backoff")
    }
}
