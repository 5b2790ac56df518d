import Foundation
import Logging
import OniCore
import OniEnvironments
import OniLearning
import OniNeural
import OniRuntime
import OniTransport
import OniWire
import Synchronization
import Testing

/// A worker whose games fail: each failing instance costs its episode (ended as truncated) and
/// is made anew; the rollouts keep coming and say how many instances failed.
@Suite struct WorkerEnvironmentFaultTests {
    /// A real grid game that fails the way a misbehaving library does: its `failAtStep`-th step
    /// (counted over the instance's life) or its `failAtReset`-th reset throws.
    final class FailingGame: Environment {
        let game = GridWorld(task: .keyroom)
        let failAtStep: Int?, failAtReset: Int?
        var steps = 0, resets = 0
        init(failAtStep: Int?, failAtReset: Int?) { (self.failAtStep, self.failAtReset) = (failAtStep, failAtReset) }
        var name: String { game.name }
        var actionCount: Int { game.actionCount }
        var observationFields: [ObservationField] { game.observationFields }
        func reset(seed: UInt64) throws(EnvironmentFault) -> String {
            resets += 1
            if resets == failAtReset { throw EnvironmentFault(environment: name, reason: "reset \(resets) failed on purpose") }
            return game.reset(seed: seed)
        }
        func step(_ action: Int) throws(EnvironmentFault) -> StepOutcome {
            steps += 1
            if steps == failAtStep { throw EnvironmentFault(environment: name, reason: "step \(steps) failed on purpose") }
            return try game.step(action)
        }
        func writeObservation(field: Int, into buffer: UnsafeMutableRawBufferPointer) { game.writeObservation(field: field, into: buffer) }
        func render() -> String { game.render() }
    }

    /// Runs a worker of `envs` environments made by `make` until it has sent `rollouts` rollouts
    /// and stopped by itself (its step budget is exactly that many), or failed; returns every
    /// rollout it sent and how it ended.
    func runWorker(envs: Int, threads: Int, rollouts wanted: Int, make: @escaping @Sendable (String) throws -> any Environment) throws
        -> (rollouts: [Rollout], error: String?)
    {
        let transport = InMemoryTransport()
        var logger = Logger(label: "test.worker")
        logger.logLevel = .error
        let experience = try MessageChannel(
            transport: transport, type: .pull, .bind("mem://fault/experience"), name: "experience", accepts: [.rollout, .hello, .heartbeat],
            logger: logger)
        let params = try MessageChannel(transport: transport, type: .pub, .bind("mem://fault/params"), name: "params", accepts: [], logger: logger)
        defer { experience.close(); params.close() }
        var config = WorkerConfig()
        config.numEnvs = envs
        config.threads = threads
        config.rolloutLength = 16
        config.maxEnvSteps = UInt64(wanted * 16 * envs)
        (config.experienceEndpoint, config.paramsEndpoint) = ("mem://fault/experience", "mem://fault/params")
        let stop = StopSignal()
        let worker = try Worker(config: config, transport: transport, stop: stop, logger: logger, makeEnvironment: make)
        let ended = Mutex<String??>(nil)
        let box = UncheckedSendable(worker)
        let thread = Thread {
            do { try box.value.run(); ended.withLock { $0 = .some(nil) } } catch { ended.withLock { $0 = .some("\(error)") } }
        }
        thread.start()
        var received: [Rollout] = []
        let deadline = Date().addingTimeInterval(120)
        // Everything it sends, until it has stopped and its queue is empty.
        while Date() < deadline {
            if case let .rollout(wire)? = try experience.receive(timeoutMilliseconds: 100) {
                received.append(try Rollout(wire: wire))
            } else if ended.withLock({ $0 != nil }) {
                break
            }
        }
        if ended.withLock({ $0 == nil }) { stop.stop(reason: "test out of time") }
        return (received, ended.withLock { $0 ?? nil })
    }

    @Test(arguments: [1, 2])
    func aFailingGameCostsItsEpisodeNotTheWorker(threads: Int) throws {
        // Every instance's 37th step fails, and so (one time in three) does a new instance's first reset.
        let made = Mutex(0)
        let result = try runWorker(envs: 4, threads: threads, rollouts: 12) { _ in
            let n = made.withLock { $0 += 1; return $0 }
            return FailingGame(failAtStep: 37, failAtReset: n > 4 && n % 3 == 0 ? 1 : nil)
        }
        #expect(result.error == nil)
        #expect(result.rollouts.count == 12)
        let rollouts = result.rollouts
        let failures = rollouts.reduce(0) { $0 + $1.envFailures }
        let truncated = rollouts.flatMap(\.episodes).filter(\.truncated)
        // 12 rollouts × 16 steps = 192 steps per environment: each instance fails at its 37th, so
        // every environment has failed at least 4 times; the failed resets add to the count.
        #expect(truncated.count >= 16, "\(truncated.count) truncated episodes")
        #expect(failures > truncated.count, "failed resets are counted too (\(failures) failures, \(truncated.count) truncated)")
        #expect(made.withLock { $0 } == 4 + failures, "one new instance per failure")
        for episode in truncated {
            #expect(!episode.success)
            let rollout = rollouts.first { $0.episodes.contains(episode) }!
            let k = episode.endStep * rollout.numEnvs + episode.envIndex
            #expect(rollout.dones[k] == 1 && rollout.rewards[k] == 0 && rollout.messageIndex[k] == -1)
        }
        // The environments went on: the last rollout has steps of every environment, none cut.
        #expect(rollouts.last!.dones.count == 16 * 4)
    }

    @Test func aGameThatCannotBeMadeAnewStopsTheWorkerWithItsError() throws {
        let made = Mutex(0)
        let result = try runWorker(envs: 2, threads: 1, rollouts: 100) { _ in
            let n = made.withLock { $0 += 1; return $0 }
            // The second environment's first step fails, and every instance after that fails its reset.
            return FailingGame(failAtStep: n == 2 ? 1 : nil, failAtReset: n > 2 ? 1 : nil)
        }
        let error = try #require(result.error)
        #expect(error.contains("reset 1 failed on purpose"))
        #expect(made.withLock { $0 } == 2 + Worker.resetAttempts)
        #expect(result.rollouts.isEmpty)
    }
}
