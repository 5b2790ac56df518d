import Foundation
import Logging
import OniAnnotation
import OniCore
import OniEnvironments
import OniLearning
import OniRewards
import OniStorage
import OniTelemetry
import OniTransport
import OniWire

/// Taking in experience: rollouts, hellos and heartbeats from the experience socket, stored
/// with the intrinsic reward they are paid, and handed to the trainer.
extension Learner {
    // MARK: Experience

    /// Takes up to `limit` frames from the experience socket without waiting.
    /// With `train`, each rollout also gets an APPO update.
    func receiveExperience(_ socket: MessageChannel, writer: StoreWriter, limit: Int, train: Bool) {
        var taken = 0
        while taken < limit, let received = (try? socket.receiveRouted(timeoutMilliseconds: 0)) ?? nil {
            taken += 1
            switch received.message {
            case let .hello(hello):
                if !hello.runID.isEmpty && hello.runID != runID {
                    counters["learner/foreign_hellos", default: 0] += 1
                    logger.warning(
                        "a process of another run connected; its rollouts will be refused",
                        metadata: ["id": "\(hello.id)", "host": "\(hello.host)", "pid": "\(hello.pid)", "its_run": "\(hello.runID)", "this_run": "\(runID)"])
                    continue
                }
                heard(hello.id, role: hello.role, detail: "host \(hello.host) pid \(hello.pid) env \(hello.envName)")
                // A new worker plays at random until it has Params: publish now (it may not have
                // subscribed yet; the 2 s republish covers that).
                lastPublished = -Double.infinity
            case let .heartbeat(beat):
                heard(beat.id, role: beat.role, envSteps: beat.envSteps, policyVersion: beat.policyVersion)
            case let .rollout(wire):
                do {
                    let rollout = try Rollout(wire: wire)
                    // Another run's live worker (replays of another run's experience are let in on purpose).
                    if !rollout.replay && !rollout.runID.isEmpty && rollout.runID != runID {
                        counters["learner/foreign_rollouts", default: 0] += 1
                        let refused = counters["learner/foreign_rollouts"]!
                        if refused == 1 || refused.truncatingRemainder(dividingBy: 1000) == 0 {
                            logger.warning(
                                "rollouts of another run refused", metadata: ["worker": "\(rollout.workerID)", "its_run": "\(rollout.runID)", "refused": "\(refused)"])
                        }
                        continue
                    }
                    let composed = ingest(rollout, protobuf: received.frame.dropFirst(WireProtocol.headerSize), writer: writer)
                    if train { self.train(on: composed) }
                } catch {
                    socket.refuse(.invalidPayload(kind: .rollout, reason: error.reason), detail: wire.workerID)
                }
            default:
                break
            }
        }
    }

    func heard(_ id: String, role: String, envSteps: UInt64? = nil, policyVersion: Int64? = nil, detail: String = "") {
        if liveness.heard(id: id, role: role, now: now, envSteps: envSteps, policyVersion: policyVersion) {
            logger.info("\(role) alive", metadata: ["id": "\(id)", "detail": "\(detail)"])
        }
    }

    /// Takes `rollout` in and stores it with the intrinsic reward paid for it; returns it with
    /// its rewards composed (extrinsic and intrinsic), for the trainer.
    @discardableResult
    func ingest(_ rollout: Rollout, protobuf: Data, writer: StoreWriter) -> Rollout {
        heard(rollout.workerID, role: rollout.replay ? "replay" : "worker", envSteps: rollout.workerEnvSteps, policyVersion: rollout.policyVersion)
        let taken = intake.take(
            rollout, protobuf: Data(protobuf), registry: &registry, receivedUnixMilliseconds: unixMilliseconds)
        if config.annotatorEndpoint != nil {
            for id in taken.newMessages {
                switch intrinsic.reward.annotation {
                case .pairs:
                    for pair in pairs.propose(for: id, among: registry, envSteps: envSteps, rng: &pairRNG) {
                        annotation.ask(about: .pair(pair))
                    }
                case .labels:
                    annotation.ask(about: .message(id))
                }
            }
        }
        let (composed, paid) = intrinsic.apply(to: rollout, ids: taken.messageIDs, registry: registry)
        var stored = taken.stored
        stored.intrinsic = paid.map { PaidIntrinsicReward(rewardType: $0.rewardType.rawValue, modelVersion: $0.version, rewards: $0.perStep) }
        if !writer.submit(.rollout(stored)) {
            let dropped = writer.currentStats.droppedRollouts
            if dropped == 1 || dropped % 1000 == 0 {
                logger.warning("disk slower than experience: rollouts dropped from the store", metadata: ["dropped": "\(dropped)"])
            }
        }
        return composed
    }

    // MARK: Training

    /// Hands a rollout whose rewards are composed (`ingest`) to the trainer.
    func train(on rollout: Rollout) {
        guard let trainer else { return }
        guard rollout.envName == config.env else {
            counters["learner/rollouts_wrong_env", default: 0] += 1
            return
        }
        do {
            trainer.submit(
                try TrainingBatch(rollout: rollout, architecture: trainer.architecture))
        } catch {
            counters["learner/rollouts_untrainable", default: 0] += 1
            logger.warning("rollout not trainable", metadata: ["worker": "\(rollout.workerID)", "error": "\(error)"])
        }
    }

    /// Publishes Params after every `publishEveryUpdates` updates, and every 2 s for workers that join late.
    func publishParams(_ socket: MessageChannel) {
        guard trainer != nil else { return }
        paramsMailbox.envSteps = envSteps
        guard let params = paramsMailbox.newest, params.version > publishedVersion || now - lastPublished >= 2 else { return }
        _ = try? socket.send(.params(params), dontWait: true)
        publishedVersion = params.version
        lastPublished = now
    }

    /// Sends new or changed message rows to the store (messages before labels, for the foreign key).
    func flushMessages(_ writer: StoreWriter) {
        for id in registry.takeDirty() {
            guard let entry = registry.entry(id) else { continue }
            writer.submit(.message(id: id, text: entry.text, count: entry.count, firstSeenEnvSteps: entry.firstSeenEnvSteps))
        }
        for (id, pair) in pairs.takeNew() {
            writer.submit(.pair(id: id, firstID: pair.first, secondID: pair.second, createdEnvSteps: pair.createdEnvSteps))
        }
    }
}
