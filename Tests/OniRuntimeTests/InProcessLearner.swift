import Foundation
import Logging
import OniLearning
import OniNeural
import OniRuntime
import OniTransport

/// A learner on a thread of the test process, over in-memory channels named `mem://NAME/…`.
enum InProcessLearner {
    /// A learner's configuration for `directory` with in-memory endpoints under `name`, no step
    /// limit, no TensorBoard files and one learner thread.
    static func config(_ directory: URL, name: String) -> LearnerConfig {
        var config = LearnerConfig()
        config.runDirectory = directory.path
        (config.experienceBind, config.paramsBind) = ("mem://\(name)/experience", "mem://\(name)/params")
        (config.metricsBind, config.controlBind) = ("mem://\(name)/metrics", "mem://\(name)/control")
        config.maxEnvSteps = 0
        config.learnerThreads = 1
        config.tensorBoard = false
        return config
    }

    /// Runs a learner with `config` over `transport` while `body` runs, then stops it and waits.
    static func run(_ config: LearnerConfig, over transport: any Transport, _ body: () throws -> Void) throws {
        let stop = StopSignal()
        let learner = UncheckedSendable(try Learner(config: config, transport: transport, stop: stop, logger: RoleFuzzTests.logger))
        let finished = RoleFuzzTests.start("learner") { try learner.value.run() }
        defer {
            stop.stop(reason: "test done")
            _ = finished(60)
        }
        try body()
    }
}
