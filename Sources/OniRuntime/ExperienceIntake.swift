import Foundation
import OniCore
import OniRewards
import OniStorage

/// The learner's intake of experience, without sockets: counts steps, rollouts and lost
/// rollouts per worker, interns each rollout's messages (each distinct message once per
/// rollout, with its number of steps), keeps the live agent's episode statistics, and decides
/// which rollouts' blobs the store keeps (an even fraction; the store's size cap thins the
/// oldest, see `StoreWriter`).
public struct ExperienceIntake {
    /// Of the rollouts received, the fraction whose blobs are kept.
    public let storeFraction: Double

    /// Environment steps and rollouts taken in (replayed ones included).
    public private(set) var envSteps: UInt64 = 0
    public private(set) var rollouts: UInt64 = 0
    /// Episodes of the live agent, and its last 100 returns, lengths and successes.
    public private(set) var episodes: UInt64 = 0
    public private(set) var returns = RollingWindow(capacity: 100)
    public private(set) var lengths = RollingWindow(capacity: 100)
    public private(set) var successes = RollingWindow(capacity: 100)
    /// Of the last 100k steps' message occurrences, the share with an LLM label at intake.
    public private(set) var coverage = LabelCoverage()
    /// learner/rollouts_lost, replay/rollouts, replay/env_steps, worker/env_failures, env/episodes_truncated.
    public private(set) var counters: [String: Double] = [:]
    private var lastSequence: [String: UInt64] = [:]
    /// The fraction's running credit.
    private var retentionCredit = 0.0

    public init(storeFraction: Double) {
        self.storeFraction = storeFraction
    }

    /// The counters this intake keeps (in `counters`, and `learner/rollouts`).
    public static let counterNames = [
        "learner/rollouts", "learner/rollouts_lost", "replay/rollouts", "replay/env_steps", "worker/env_failures", "env/episodes_truncated",
    ]

    /// Continues a run: its env steps and episodes, and its counters as last stored (`counterNames`).
    public mutating func resume(envSteps: UInt64, episodes: UInt64, counters stored: [String: Double] = [:]) {
        self.envSteps = envSteps
        self.episodes = episodes
        for name in Self.counterNames {
            guard let value = stored[name] else { continue }
            if name == "learner/rollouts" { rollouts = UInt64(max(0, value)) } else { counters[name] = value }
        }
    }

    /// What taking in one rollout produced.
    public struct Taken {
        /// Messages seen for the first time in this run (to be labelled).
        public var newMessages: [UInt64] = []
        /// The id of each of the rollout's messages (nil for one no step shows).
        public var messageIDs: [UInt64?] = []
        /// The row for the store (its blob only when kept).
        public var stored: StoredRollout
    }

    /// Takes in `rollout` (validated), whose encoded protobuf is `protobuf`.
    public mutating func take(_ rollout: Rollout, protobuf: @autoclosure () -> Data, registry: inout MessageRegistry, receivedUnixMilliseconds: Int64) -> Taken {
        // Per incarnation: a restarted worker counts from 0 again, which is no loss.
        if let last = lastSequence[rollout.incarnation], rollout.sequence > last, rollout.sequence - last > 1 {
            counters["learner/rollouts_lost", default: 0] += Double(rollout.sequence - last - 1)
        }
        lastSequence[rollout.incarnation] = rollout.sequence
        rollouts += 1
        envSteps += UInt64(rollout.stepCount)
        if rollout.replay {
            counters["replay/rollouts", default: 0] += 1
            counters["replay/env_steps", default: 0] += Double(rollout.stepCount)
        }
        // Count each distinct message once per rollout, with its number of steps.
        var occurrences = [Int64](repeating: 0, count: rollout.messages.count)
        for index in rollout.messageIndex where index >= 0 { occurrences[Int(index)] += 1 }
        var newMessages: [UInt64] = []
        var messageIDs = [UInt64?](repeating: nil, count: rollout.messages.count)
        var labelled: Int64 = 0, total: Int64 = 0
        for (i, text) in rollout.messages.enumerated() where occurrences[i] > 0 {
            let (id, isNew) = registry.observe(text, occurrences: occurrences[i], envSteps: envSteps)
            messageIDs[i] = id
            if isNew { newMessages.append(id) }
            total += occurrences[i]
            if registry.entry(id)?.label != nil { labelled += occurrences[i] }
        }
        if !rollout.replay { coverage.record(labelled: labelled, total: total, envSteps: envSteps) }
        if rollout.envFailures > 0 && !rollout.replay { counters["worker/env_failures", default: 0] += Double(rollout.envFailures) }
        for episode in rollout.episodes where !rollout.replay {  // the returns are the live agent's
            episodes += 1
            // An environment that failed cut its episode short: counted, not a return of the agent's.
            if episode.truncated {
                counters["env/episodes_truncated", default: 0] += 1
                continue
            }
            returns.append(episode.episodeReturn)
            lengths.append(Double(episode.length))
            successes.append(episode.success ? 1 : 0)
        }
        let stored = StoredRollout(
            workerID: rollout.workerID, sequence: rollout.sequence, policyVersion: rollout.policyVersion,
            steps: rollout.stepCount, learnerEnvSteps: envSteps, replay: rollout.replay,
            receivedUnixMilliseconds: receivedUnixMilliseconds, protobuf: retain() ? protobuf() : nil,
            episodes: rollout.episodes)
        return Taken(newMessages: newMessages, messageIDs: messageIDs, stored: stored)
    }

    /// Whether this rollout's blob is kept: the configured fraction, evenly spread.
    private mutating func retain() -> Bool {
        retentionCredit += storeFraction
        guard retentionCredit >= 1 - 1e-9 else { return false }
        retentionCredit -= 1
        return true
    }
}
