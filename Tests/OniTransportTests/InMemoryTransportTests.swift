import Foundation
import OniTransport
import OniWire
import Testing

/// What the in-memory transport must do the way ZeroMQ does, for roles to behave the same on it.
@Suite struct InMemoryTransportTests {
    let transport = InMemoryTransport()
    func frame(_ n: UInt8) -> [Data] { [Data([n])] }

    @Test func aFullQueueHoldsTheSenderBackUntilTheReceiverReads() throws {
        let pull = try transport.open(.pull, .bind("mem://pull"), options: ChannelOptions(receiveHighWaterMark: 2))
        let push = try transport.open(.push, .connect("mem://pull"), options: ChannelOptions(sendHighWaterMark: 1, sendTimeoutMilliseconds: 50))
        // Room for the sender's 1 plus the receiver's 2, as ZeroMQ's two queues.
        for n in 0..<3 { #expect(try push.send(multipart: frame(UInt8(n)), dontWait: true)) }
        #expect(try !push.send(multipart: frame(3), dontWait: true))
        #expect(try !push.send(multipart: frame(3), dontWait: false), "the send timeout elapses")
        // A blocking send with time to wait goes through once the receiver reads.
        nonisolated(unsafe) let receiver = pull
        let reader = Thread {
            Thread.sleep(forTimeInterval: 0.05)
            _ = try? receiver.receiveMultipart(dontWait: true, maxParts: 8)
        }
        reader.start()
        var sent = false
        let deadline = Date().addingTimeInterval(5)
        while !sent && Date() < deadline { sent = try push.send(multipart: frame(4), dontWait: false) }
        #expect(sent)
        var order: [UInt8] = []
        while let message = try pull.receiveMultipart(dontWait: true, maxParts: 8) { order.append(message[0][0]) }
        #expect(order == [1, 2, 4], "first in, first out; the first was read by the other thread")
    }

    @Test func roundRobinOverPushersAndFairQueueingOnReceipt() throws {
        let pull = try transport.open(.pull, .bind("mem://fan-in"), options: ChannelOptions())
        let a = try transport.open(.push, .connect("mem://fan-in"), options: ChannelOptions())
        let b = try transport.open(.push, .connect("mem://fan-in"), options: ChannelOptions())
        for n in 0..<3 { _ = try a.send(multipart: frame(UInt8(n)), dontWait: true) }
        for n in 10..<13 { _ = try b.send(multipart: frame(UInt8(n)), dontWait: true) }
        var order: [UInt8] = []
        while let message = try pull.receiveMultipart(dontWait: true, maxParts: 8) { order.append(message[0][0]) }
        #expect(order == [0, 10, 1, 11, 2, 12])
    }

    @Test func conflationKeepsOnlyTheNewestAndPublishersNeverWait() throws {
        let pub = try transport.open(.pub, .bind("mem://params"), options: ChannelOptions())
        let newest = try transport.open(.sub, .connect("mem://params"), options: ChannelOptions(conflate: true))
        let every = try transport.open(.sub, .connect("mem://params"), options: ChannelOptions(receiveHighWaterMark: 1))
        for n in 0..<5 { #expect(try pub.send(multipart: frame(UInt8(n)), dontWait: false)) }
        #expect(try newest.receiveMultipart(dontWait: true, maxParts: 8) == frame(4))
        #expect(try newest.receiveMultipart(dontWait: true, maxParts: 8) == nil)
        // 1 + 1000 queued (the publisher's default plus the subscriber's 1): nothing dropped at 5.
        for n in 0..<5 { #expect(try every.receiveMultipart(dontWait: true, maxParts: 8) == frame(UInt8(n))) }
    }

    @Test func repliesGoBackToTheAsker() throws {
        let rep = try transport.open(.rep, .bind("mem://control"), options: ChannelOptions())
        let one = try transport.open(.req, .connect("mem://control"), options: ChannelOptions())
        let two = try transport.open(.req, .connect("mem://control"), options: ChannelOptions())
        #expect(throws: TransportError.self) { try rep.send(multipart: frame(0), dontWait: true) }
        _ = try two.send(multipart: frame(2), dontWait: true)
        _ = try one.send(multipart: frame(1), dontWait: true)
        for _ in 0..<2 {
            let asked = try #require(try rep.receiveMultipart(dontWait: true, maxParts: 8))
            _ = try rep.send(multipart: [Data([asked[0][0] + 100])], dontWait: true)
        }
        #expect(try one.receiveMultipart(dontWait: true, maxParts: 8) == frame(101))
        #expect(try two.receiveMultipart(dontWait: true, maxParts: 8) == frame(102))
        // An asker that gave up (closed) before its answer: the reply is dropped, nothing fails.
        _ = try one.send(multipart: frame(3), dontWait: true)
        one.close()
        #expect(try rep.receiveMultipart(dontWait: true, maxParts: 8) == frame(3))
        #expect(try rep.send(multipart: frame(103), dontWait: true))
    }

    @Test func immediateSendsFailWithoutAPeerAndConnectionsSurviveARebind() throws {
        let dealer = try transport.open(.dealer, .connect("mem://annotator"), options: ChannelOptions(immediate: true))
        #expect(try !dealer.send(multipart: frame(1), dontWait: true), "no annotator yet")
        var router = try transport.open(.router, .bind("mem://annotator"), options: ChannelOptions())
        #expect(try dealer.send(multipart: frame(2), dontWait: true))
        let request = try #require(try router.receiveMultipart(dontWait: true, maxParts: 8))
        #expect(request.count == 2 && request[1] == Data([2]), "a router sees the peer's id first")
        // The annotator dies and another takes its address: the dealer reaches the new one.
        router.close()
        #expect(try !dealer.send(multipart: frame(3), dontWait: true))
        router = try transport.open(.router, .bind("mem://annotator"), options: ChannelOptions())
        defer { router.close() }
        #expect(try dealer.send(multipart: frame(4), dontWait: true))
        let again = try #require(try router.receiveMultipart(dontWait: true, maxParts: 8))
        _ = try router.send(multipart: [again[0], Data([5])], dontWait: true)
        _ = try router.send(multipart: [Data("nobody".utf8), Data([6])], dontWait: true)
        #expect(try dealer.receiveMultipart(dontWait: true, maxParts: 8) == frame(5))
        #expect(try dealer.receiveMultipart(dontWait: true, maxParts: 8) == nil, "a reply to an unknown peer is dropped")
    }

    @Test func whatASenderQueuedBeforeClosingIsStillDelivered() throws {
        let pull = try transport.open(.pull, .bind("mem://experience"), options: ChannelOptions())
        let push = try transport.open(.push, .connect("mem://experience"), options: ChannelOptions())
        for n in 0..<3 { _ = try push.send(multipart: frame(UInt8(n)), dontWait: true) }
        push.close()
        #expect(throws: TransportError.closed) { try push.send(multipart: frame(9), dontWait: true) }
        for n in 0..<3 { #expect(try pull.receiveMultipart(dontWait: true, maxParts: 8) == frame(UInt8(n))) }
    }

    @Test func pollingWakesOnTheChannelThatReceivedAndRefusesOtherTransports() throws {
        let quiet = try transport.open(.pull, .bind("mem://quiet"), options: ChannelOptions())
        let busy = try transport.open(.pull, .bind("mem://busy"), options: ChannelOptions())
        nonisolated(unsafe) let push = try transport.open(.push, .connect("mem://busy"), options: ChannelOptions())
        let sender = Thread {
            Thread.sleep(forTimeInterval: 0.05)
            _ = try? push.send(multipart: [Data([1])], dontWait: true)
        }
        sender.start()
        #expect(try transport.readable([quiet, busy], timeoutMilliseconds: 5000) == [false, true])
        #expect(try transport.readable([quiet], timeoutMilliseconds: 10) == [false])
        let elsewhere = try InMemoryTransport().open(.pull, .bind("mem://x"), options: ChannelOptions())
        #expect(throws: TransportError.self) { try transport.readable([quiet, elsewhere], timeoutMilliseconds: 0) }
    }
}
