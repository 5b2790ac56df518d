import OniRewards
import OniRuntime
import Testing

@Suite struct AnnotationQueueTests {
    @Test func newestFirstAndEachAtMostOnceWhilePending() {
        var q = AnnotationQueue<UInt64>(batchSize: 2, maxInFlight: 2, timeout: 10)
        for id: UInt64 in 1...5 { q.enqueue(id) }
        q.enqueue(3)  // already waiting: ignored
        let first = q.nextRequest(now: 0)
        #expect(first?.ids == [5, 4])
        q.enqueue(5)  // pending: ignored
        let second = q.nextRequest(now: 0)
        #expect(second?.ids == [3, 2])
        expectThat(q.nextRequest(now: 0) == nil)  // two in flight: no slot
        #expect(q.pendingCount == 4)
        #expect(q.waitingCount == 1)
        expectThat(q.answered(first!.requestID))
        expectThat(!q.answered(first!.requestID))  // twice: unknown
        expectThat(q.nextRequest(now: 0)?.ids == [1])
    }

    @Test func partlyAnsweredRequestsKeepTheRestPendingAndTheirTimeoutRestarts() {
        var q = AnnotationQueue<UInt64>(batchSize: 4, maxInFlight: 2, timeout: 10)
        for id: UInt64 in 1...4 { q.enqueue(id) }
        let request = q.nextRequest(now: 0)!
        q.enqueue(9)
        let other = q.nextRequest(now: 0)!
        expectThat(q.partlyAnswered(request.requestID, ids: [4, 2, 9], now: 8))  // 9 is not this request's
        #expect(q.pendingCount == 3, "1 and 3 still pending, and 9 in the other request")
        q.enqueue(4)  // answered: may be asked about again (the learner asks only about unlabelled ones)
        expectThat(q.expire(now: 15) == 1, "the other request, silent since 0, times out; this one answered at 8")
        expectThat(q.expire(now: 19) == 1, "silent since 8: times out at 18")
        #expect(q.timedOutRequests == 2)
        expectThat(!q.partlyAnswered(other.requestID, ids: [9], now: 20))  // late: unknown
        expectThat(!q.answered(request.requestID))
        let again = q.nextRequest(now: 20)!
        #expect(Set(again.ids) == [1, 3, 4, 9])
    }

    @Test func unansweredRequestsAreResentAfterTheTimeout() {
        var q = AnnotationQueue<UInt64>(batchSize: 4, maxInFlight: 1, timeout: 10)
        q.enqueue(1)
        q.enqueue(2)
        let request = q.nextRequest(now: 0)!
        expectThat(q.expire(now: 9) == 0)
        expectThat(q.expire(now: 11) == 1)
        #expect(q.timedOutRequests == 1)
        expectThat(!q.answered(request.requestID))  // a late reply is recognised as late
        let again = q.nextRequest(now: 11)
        #expect(again?.ids == [2, 1])
        #expect(again?.requestID != request.requestID)
    }

    @Test func unsentRequestsGoBackOnTop() {
        var q = AnnotationQueue<UInt64>(batchSize: 2, maxInFlight: 1, timeout: 10)
        for id: UInt64 in 1...3 { q.enqueue(id) }
        let request = q.nextRequest(now: 0)!
        q.unsent(request.requestID)
        #expect(q.pendingCount == 0)
        expectThat(q.nextRequest(now: 0)?.ids == [3, 2])
    }

    /// With a priority (how often each message was seen) the most-seen go first, newest first
    /// among equals: an old, frequent message is not starved by a stream of new ones.
    @Test func priorityPutsTheMostSeenFirst() {
        var q = AnnotationQueue<UInt64>(batchSize: 3, maxInFlight: 4, timeout: 10)
        let seen: [UInt64: Int64] = [1: 4134, 2: 1, 3: 7, 4: 1, 5: 7, 6: 1, 7: 2]
        for id: UInt64 in 1...7 { q.enqueue(id) }
        let first = q.nextRequest(now: 0) { seen[$0, default: 1] }
        #expect(first?.ids == [1, 5, 3])
        q.enqueue(8)  // new, seen once
        let second = q.nextRequest(now: 0) { seen[$0, default: 1] }
        #expect(second?.ids == [7, 8, 6])
        #expect(q.waitingCount == 2)
        // Each message goes out once; what is left comes out newest first.
        let third = q.nextRequest(now: 0) { seen[$0, default: 1] }
        #expect(third?.ids == [4, 2])
        #expect(q.pendingCount == 8)
    }

    @Test func serverFailuresBackOffExponentiallyCappedAndNeverGiveUp() {
        var q = AnnotationQueue<UInt64>(batchSize: 1, maxInFlight: 1, timeout: 100)
        q.firstBackoff = 5
        q.maxBackoff = 15
        q.enqueue(7)
        var now = 0.0
        let r1 = q.nextRequest(now: now)!
        q.answered(r1.requestID)
        #expect(q.failed(7, now: now) == 5)
        #expect(q.backingOff(now: now + 2) == (1, 2))
        expectThat(q.nextRequest(now: now + 4.9) == nil)  // backing off 5 s
        now += 5
        let r2 = q.nextRequest(now: now)!
        #expect(r2.ids == [7])
        q.answered(r2.requestID)
        #expect(q.failed(7, now: now) == 10)
        expectThat(q.nextRequest(now: now + 9.9) == nil)  // then 10 s
        now += 10
        let r3 = q.nextRequest(now: now)!
        q.answered(r3.requestID)
        #expect(q.failed(7, now: now) == 15, "capped")
        #expect(q.failed(7, now: now) == 15)
        let again = q.nextRequest(now: now + 15)
        #expect(again?.ids == [7], "still asked, however often it failed")
        #expect(q.backingOff(now: now + 15).count == 0)
    }

    @Test func aResumedRunWaitsOutTheBackoffAMessageHadReached() {
        var q = AnnotationQueue<UInt64>(batchSize: 4, maxInFlight: 4, timeout: 100)
        q.firstBackoff = 5
        q.restoreFailures(1, attempts: 3, now: 100)  // the third failure's backoff: 20 s
        q.restoreFailures(2, attempts: 0, now: 100)
        #expect(q.nextRequest(now: 100)?.ids == [2])
        #expect(q.nextRequest(now: 119.9) == nil)
        #expect(q.nextRequest(now: 120)?.ids == [1])
    }
}

@Suite struct MessageRegistryTests {
    @Test func internsCountsAndLabels() {
        var r = MessageRegistry()
        let a = r.observe("It's a wall.", occurrences: 3, envSteps: 10)
        let b = r.observe("You find a key.", occurrences: 1, envSteps: 11)
        let a2 = r.observe("It's a wall.", occurrences: 2, envSteps: 12)
        #expect(a.isNew && b.isNew && !a2.isNew)
        #expect(a.id == a2.id && a.id != b.id)
        #expect(r.entry(a.id)?.count == 5)
        #expect(r.entry(a.id)?.firstSeenEnvSteps == 10)
        #expect(r.takeDirty() == [a.id, b.id])
        #expect(r.takeDirty().isEmpty)
        r.setLabel(b.id, 1)
        r.setLabel(a.id, 0)
        #expect(r.labelledCount == 2 && r.positiveCount == 1)
        r.setLabel(a.id, 1)  // relabel: counted once
        #expect(r.labelledCount == 2 && r.positiveCount == 2)
    }

    @Test func restoredIdsStayAndNewOnesFollow() {
        var r = MessageRegistry()
        r.restore(id: 7, text: "You kill the rat!", count: 4, firstSeenEnvSteps: 1, label: 1)
        #expect(r.id(of: "You kill the rat!") == 7)
        #expect(r.labelledCount == 1)
        expectThat(r.observe("The rat bites!", occurrences: 1, envSteps: 2).id == 8)
    }
}

@Suite struct LivenessTrackerTests {
    @Test func peersDieAfterTheTimeoutAndRejoin() {
        var t = LivenessTracker(timeout: 5)
        expectThat(t.heard(id: "worker-0", role: "worker", now: 0))
        expectThat(!t.heard(id: "worker-0", role: "worker", now: 3))
        expectThat(t.heard(id: "annotator-0", role: "annotator", now: 3))
        #expect(t.alive(now: 7, role: "worker").map(\.id) == ["worker-0"])
        #expect(t.alive(now: 8.1, role: "worker").isEmpty)
        expectThat(t.heard(id: "worker-0", role: "worker", now: 9))  // came back
    }
}

/// `#expect` for conditions that call mutating methods (the macro cannot).
func expectThat(_ condition: Bool, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(condition, comment, sourceLocation: sourceLocation)
}
