import CBLAS
import Foundation
import OniCore
import OniEnvironments
import OniLearning
import OniNeural

extension Benchmarks {
    /// What `oni bench learner` times.
    public struct LearnerOptions: Sendable {
        /// The environment whose network is timed (grid:keyroom: the feed-forward default and a GRU; NetHack: crop 9 with a GRU).
        public var env = "grid:keyroom"
        public var hidden: Int?
        public var filters: Int?
        /// Batch sizes in environment steps (rollouts of T=32, B=16 each).
        public var batchSizes = [512, 1024, 2048]
        /// Thread counts, each timed at the largest batch size.
        public var threads = [1, 2]
        public init() {}
    }

    /// APPO updates on rollouts of random play (T=32, B=16), batched worker inference, with FLOPs
    /// per sample, achieved GFLOP/s and their share of the sgemm peak measured in the same process.
    public static func learner(_ options: LearnerOptions, output: (String) -> Void) throws {
        openblas_set_num_threads(1)
        var (env, standard) = try network(for: options.env)
        if let hidden = options.hidden { standard.hidden = hidden }
        if let filters = options.filters { standard.filters = filters }
        let peak = SGEMMPeak.measure(repeats: 30)
        output(String(format: "learner    sgemm 256x512x512 peak, 1 thread: %.1f GFLOP/s (OpenBLAS kernel %@, our kernels %@)", peak, BLASKernel.current as NSString, Kernels.instructions as NSString))
        // Rollouts of random play, made once: 4 of 512 steps cover every batch size up to 2048.
        let most = max(options.batchSizes.max() ?? 512, 512)
        let rollouts = try (0..<((most + 511) / 512)).map { try syntheticRollout(env: env, steps: 32, envs: 16, seed: UInt64(3 + $0)) }
        for core in [standard.core] + PolicyArchitecture.Core.allCases.filter({ $0 != standard.core }) {
            var architecture = standard
            architecture.core = core
            let batches = try rollouts.map { try TrainingBatch(rollout: $0, architecture: architecture) }
            let flops = architecture.trainingFLOPsPerSample(steps: 32)
            let parameters = APPOTrainer(architecture: architecture, config: TrainingConfig(), seed: 1).network.parameters.reduce(0) { $0 + $1.count }
            output(String(format: "learner    network %@: %d parameters, %.2f MFLOP per trained sample", architecture.signature as NSString, parameters, flops / 1e6))
            var performedNoted = false
            /// One line per timing: the median update's time, what it did per second, and where the time went.
            func report(_ trainer: APPOTrainer, samples: Int, median: Double, timing: APPOTrainer.UpdateTiming, suffix: String) {
                // What the update did: the message encoder computes each distinct message once,
                // as far as the batch's messages reach, so less than the architecture's count.
                let performed = trainer.lastUpdateFLOPs / Double(samples)
                if !performedNoted && performed < flops * 0.999 {
                    output(String(format: "learner    performed on this batch: %.2f MFLOP per sample (messages computed once each, as far as they reach); GFLOP/s below count these", performed / 1e6))
                    performedNoted = true
                }
                let rate = Double(samples) / median, gflops = rate * performed / 1e9
                let share = { (x: Double) in Int((x / timing.total * 100).rounded()) }
                // Against N threads' peak: N times one thread's (what N cores could do, each at the sgemm peak).
                let threads = trainer.threads
                var line = String(format: "learner    APPO update batch %5d, %d thread%@: %7.1f ms = %7.0f samples/s  %5.1f GFLOP/s = %3.0f%% of %@peak",
                    samples, threads, threads == 1 ? " " : "s", median * 1000, rate, gflops, gflops / (peak * Double(threads)) * 100,
                    threads == 1 ? "" : "\(threads)× " as NSString)
                line += "  [forward \(share(timing.forward))%, loss \(share(timing.loss))%, backward \(share(timing.backward))%, reduce+step \(share(timing.step))%]"
                output(line + suffix)
            }
            let largest = options.batchSizes.max() ?? 512
            var oneThread: APPOTrainer?  // at the largest batch, for the pairs below
            for size in options.batchSizes {
                let trainer = APPOTrainer(architecture: architecture, config: TrainingConfig(), seed: 1)
                let parts = Array(batches[0..<max(1, size / 512)])
                trainer.update(parts)  // warm up: buffers sized, pages touched
                var timing = APPOTrainer.UpdateTiming(), durations: [Double] = []
                while durations.count < 3 || (durations.count < 40 && durations.reduce(0, +) < 2) {
                    durations.append(seconds { trainer.update(parts) })
                    timing.add(trainer.lastTiming)
                }
                report(trainer, samples: parts.reduce(0) { $0 + $1.samples }, median: median(durations), timing: timing, suffix: "")
                if size == largest { oneThread = trainer }
            }
            // More threads at the largest batch, interleaved with one thread update by update (which
            // goes first alternates), so that both see the same neighbours on a shared machine: the
            // speed-up is the median of the pairs' ratios, not a ratio of two runs seconds apart.
            let parts = Array(batches[0..<max(1, largest / 512)])
            let one = oneThread ?? APPOTrainer(architecture: architecture, config: TrainingConfig(), seed: 1)
            one.update(parts)
            for threads in options.threads where threads != 1 {
                let many = APPOTrainer(architecture: architecture, config: TrainingConfig(), seed: 1, threads: threads)
                many.update(parts)  // warm up
                var timing = APPOTrainer.UpdateTiming(), durations: [Double] = [], beside: [Double] = [], ratios: [Double] = []
                var spent = 0.0
                while ratios.count < 6 || (ratios.count < 60 && spent < 6) {
                    var t1 = 0.0, tn = 0.0
                    if ratios.count % 2 == 0 {
                        t1 = seconds { one.update(parts) }
                        tn = seconds { many.update(parts) }
                    } else {
                        tn = seconds { many.update(parts) }
                        t1 = seconds { one.update(parts) }
                    }
                    timing.add(many.lastTiming)
                    durations.append(tn)
                    beside.append(t1)
                    ratios.append(t1 / tn)
                    spent += t1 + tn
                }
                let sorted = ratios.sorted()
                let quartiles = (sorted[sorted.count / 4], sorted[(sorted.count * 3) / 4])
                report(many, samples: parts.reduce(0) { $0 + $1.samples }, median: median(durations), timing: timing, suffix: String(
                    format: "  %.2f× 1 thread (median of %d interleaved pairs, 1 thread %.1f ms in them; quartiles %.2f–%.2f×)", median(ratios), ratios.count,
                    median(beside) * 1000, quartiles.0, quartiles.1))
            }
            try inference(architecture, batch: batches[0], output: output)
        }
    }

    /// The middle value (the mean of the middle two for an even count).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted(), n = sorted.count
        guard n > 0 else { return .nan }
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }

    /// Worker inference: one step of 16 environments at a time.
    private static func inference(_ architecture: PolicyArchitecture, batch: TrainingBatch, output: (String) -> Void) throws {
        let network = PolicyNetwork<Float>(architecture: architecture, seed: 1)
        let rowChars = architecture.height * architecture.width
        let chars = Array(batch.chars[0..<(16 * rowChars)]), stat = Array(batch.status[0..<(16 * architecture.statusSize)])
        let message = Array(batch.message[0..<(16 * architecture.messageLength)])
        var state = [Float](repeating: 0, count: 16 * architecture.stateSize)
        let resets = [UInt8](repeating: 0, count: 16)
        let steps = 200
        let elapsed = seconds {
            for _ in 0..<steps {
                chars.withUnsafeBufferPointer { c in
                    stat.withUnsafeBufferPointer { s in
                        message.withUnsafeBufferPointer { m in
                            state = network.forward(ObservationRows(chars: c, status: s, message: m), steps: 1, envs: 16, state: state, resets: resets).state
                        }
                    }
                }
            }
        }
        output(String(format: "learner    worker inference batch 16: %6.2f ms/step = %8.0f env steps/s (1 thread)", elapsed / Double(steps) * 1000, Double(steps * 16) / elapsed))
    }

    /// One APPO update, repeatable: the network `oni bench learner` times for `env` (its default core,
    /// or `core`), trained again and again on the same batch of random play (whole rollouts of
    /// T=32, B=16 up to `batchSize` env steps). For counting what one update costs.
    public struct RepeatableUpdate {
        public let signature: String
        let run: () -> Void
        public func callAsFunction() { run() }
    }

    /// The environment `name` and the learner's network for it.
    static func network(for name: String) throws -> (any Environment, PolicyArchitecture) {
        let env = try EnvironmentFactory.make(name: name)
        guard let architecture = PolicyArchitecture(environment: env) else {
            throw RuntimeError.invalidConfiguration("\(name) has no map observation: no policy network to train")
        }
        return (env, architecture)
    }

    public static func repeatableUpdate(env name: String, core: String?, batchSize: Int, threads: Int) throws -> RepeatableUpdate {
        openblas_set_num_threads(1)
        var (env, architecture) = try network(for: name)
        if let core {
            guard let chosen = PolicyArchitecture.Core(rawValue: core) else { throw RuntimeError.invalidConfiguration("unknown core \(core)") }
            architecture.core = chosen
        }
        let batches = try (0..<max(1, batchSize / 512)).map {
            try TrainingBatch(rollout: try syntheticRollout(env: env, steps: 32, envs: 16, seed: UInt64(3 + $0)), architecture: architecture)
        }
        let trainer = APPOTrainer(architecture: architecture, config: TrainingConfig(), seed: 1, threads: threads)
        return RepeatableUpdate(signature: architecture.signature) { _ = trainer.update(batches) }
    }
}
