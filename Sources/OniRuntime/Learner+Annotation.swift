import Foundation
import Logging
import OniAnnotation
import OniCore
import OniLearning
import OniStorage
import OniTelemetry
import OniTransport
import OniWire

/// Asking the annotator about unlabelled messages and pairs, and taking its answers.
extension Learner {
    /// The annotation item for a queued id: a message without a label, or a pair without a judgement.
    func annotationItem(_ id: UInt64) -> Oni_V1_AnnotationItem? {
        if PairTable.isPair(id) {
            guard let pair = pairs.pairs[id], pair.preference == nil, let first = registry.entry(pair.first), let second = registry.entry(pair.second)
            else { return nil }
            return AnnotationItem(messageID: id, text: first.text, secondText: second.text).wire
        }
        return registry.entry(id).flatMap { $0.label == nil ? AnnotationItem(messageID: id, text: $0.text).wire : nil }
    }

    /// Which waiting item to ask about first: the most-seen message (a pair: its two messages' counts together).
    func annotationPriority(_ id: UInt64) -> Int64 {
        guard PairTable.isPair(id) else { return registry.entry(id)?.count ?? 0 }
        guard let pair = pairs.pairs[id] else { return 0 }
        return (registry.entry(pair.first)?.count ?? 0) + (registry.entry(pair.second)?.count ?? 0)
    }

    func sendAnnotationRequests(_ socket: MessageChannel) {
        annotation.expire(now: now)
        guard now >= annotationRetryAt else { return }
        while let next = annotation.nextRequest(now: now, priority: annotationPriority) {
            // A late reply may have labelled some of these meanwhile.
            let items = next.ids.compactMap(annotationItem)
            if items.isEmpty {
                annotation.answered(next.requestID)
                continue
            }
            var request = Oni_V1_AnnotationRequest()
            request.requestID = next.requestID
            request.goal = config.goal
            request.items = items
            if (try? socket.send(.annotationRequest(request), dontWait: true)) == true {
                counters["annotation/requests_sent", default: 0] += 1
            } else {
                // No annotator connected (ZMQ_IMMEDIATE): keep the messages waiting.
                annotation.unsent(next.requestID)
                annotationRetryAt = now + 0.25
                break
            }
        }
    }

    func handleReply(_ reply: Oni_V1_AnnotationReply, writer: StoreWriter, socket: MessageChannel) {
        if !annotation.answered(reply.requestID, now: now) {
            counters["annotation/late_replies", default: 0] += 1
        }
        counters["annotation/replies", default: 0] += 1
        flushMessages(writer)
        let stamp = unixMilliseconds
        for wire in reply.results {
            let result: AnnotationResult
            do {
                result = try AnnotationResult(wire: wire)
            } catch {
                socket.refuse(.invalidPayload(kind: .annotationReply, reason: error.reason), detail: reply.annotatorID)
                continue
            }
            let isPair = PairTable.isPair(result.messageID)
            guard isPair ? pairs.pairs[result.messageID] != nil : registry.entry(result.messageID) != nil else {
                counters["annotation/unknown_messages", default: 0] += 1
                continue
            }
            // A message is only asked about while unlabelled, so a result for one labelled since is a
            // second answer to a re-sent request (the first annotator answered late, or twice): kept once.
            let labelled = isPair ? pairs.pairs[result.messageID]?.preference != nil : registry.entry(result.messageID)?.label != nil
            if labelled {
                counters["annotation/duplicate_results", default: 0] += 1
                continue
            }
            if isPair {
                var stored = result
                stored.messageID -= PairTable.idBase
                writer.submit(.pairLabel(stored, unixMilliseconds: stamp))
            } else {
                writer.submit(.label(result, unixMilliseconds: stamp))
            }
            switch result.outcome {
            case let .labelled(value, _) where isPair:
                guard (0...1).contains(value) else {
                    counters["annotation/unparseable", default: 0] += 1
                    continue
                }
                pairs.setPreference(result.messageID, value)
            case let .labelled(value, _):
                // The latest label wins, here and in the store's message_labels view.
                registry.setLabel(result.messageID, value)
            case .unparseable:
                counters["annotation/unparseable", default: 0] += 1
            case .backendError:
                // The server failed, not the model: ask again after a backoff.
                counters["annotation/backend_errors", default: 0] += 1
                annotation.failed(result.messageID, now: now)
            }
        }
    }
}
