import Foundation
import Logging
import OniAnnotation
import OniCore
import OniLearning
import OniRewards
import OniStorage
import OniTelemetry
import OniTransport
import OniWire

/// Asking the annotator about unlabelled messages and pairs, and taking its answers.
extension Learner {
    /// The text(s) to ask about: a message without a label, or a pair without a judgement (nil once answered).
    func annotationTexts(_ subject: AnnotationSubject) -> (text: String, second: String?)? {
        switch subject {
        case let .message(id):
            return registry.entry(id).flatMap { $0.label == nil ? ($0.text, nil) : nil }
        case let .pair(id):
            guard let pair = pairs.pairs[id], pair.preference == nil, let first = registry.entry(pair.first), let second = registry.entry(pair.second)
            else { return nil }
            return (first.text, second.text)
        }
    }

    /// Which waiting subject to ask about first: the most-seen message (a pair: its two messages' counts together).
    func annotationPriority(_ subject: AnnotationSubject) -> Int64 {
        switch subject {
        case let .message(id):
            return registry.entry(id)?.count ?? 0
        case let .pair(id):
            guard let pair = pairs.pairs[id] else { return 0 }
            return (registry.entry(pair.first)?.count ?? 0) + (registry.entry(pair.second)?.count ?? 0)
        }
    }

    func sendAnnotationRequests(_ socket: MessageChannel) {
        while let request = annotation.nextRequest(now: now, goal: config.goal, texts: annotationTexts, priority: annotationPriority) {
            if (try? socket.send(.annotationRequest(request), dontWait: true)) == true {
                counters["annotation/requests_sent", default: 0] += 1
            } else {
                // No annotator connected (immediate): the subjects wait again.
                annotation.couldNotSend(request, now: now)
                break
            }
        }
    }

    func handleReply(_ reply: Oni_V1_AnnotationReply, writer: StoreWriter, socket: MessageChannel) {
        let (expected, answers) = annotation.take(reply, now: now)
        if !expected { counters["annotation/late_replies", default: 0] += 1 }
        counters["annotation/replies", default: 0] += 1
        flushMessages(writer)
        let stamp = unixMilliseconds
        for answer in answers {
            guard case let .result(subject, result) = answer else {
                if case let .invalid(error) = answer {
                    socket.refuse(.invalidPayload(kind: .annotationReply, reason: error.reason), detail: reply.annotatorID)
                }
                continue
            }
            // A subject is only asked about while unanswered, so a result for one answered since is a
            // second answer to a re-sent request (the first annotator answered late, or twice): kept once.
            let answered: Bool
            switch subject {
            case let .message(id):
                guard let entry = registry.entry(id) else {
                    counters["annotation/unknown_messages", default: 0] += 1
                    continue
                }
                answered = entry.label != nil
            case let .pair(id):
                guard let pair = pairs.pairs[id] else {
                    counters["annotation/unknown_messages", default: 0] += 1
                    continue
                }
                answered = pair.preference != nil
            }
            if answered {
                counters["annotation/duplicate_results", default: 0] += 1
                continue
            }
            switch subject {
            case .message: writer.submit(.label(result, unixMilliseconds: stamp))
            case .pair: writer.submit(.pairLabel(result, unixMilliseconds: stamp))
            }
            switch (result.outcome, subject) {
            case let (.labelled(value, _), .pair(id)):
                guard (0...1).contains(value) else {
                    counters["annotation/unparseable", default: 0] += 1
                    continue
                }
                pairs.setPreference(id, value)
            case let (.labelled(value, confidence), .message(id)):
                // The latest label wins, here and in the store's message_labels view.
                registry.setLabel(id, value, confidence: confidence)
            case (.unparseable, _):
                counters["annotation/unparseable", default: 0] += 1
            case (.disagreed, _):
                // Asked more than one way, and the answers differ: settled without a label.
                counters["annotation/disagreed", default: 0] += 1
            case (.backendError, _):
                // The server failed, not the model: ask again after a backoff.
                counters["annotation/backend_errors", default: 0] += 1
                annotation.failed(subject, now: now)
            }
        }
    }
}
