import CBLAS
import Foundation
import Logging
import OniCore
import OniEnvironments
import OniStorage
import OniTransport
import OniWire

/// The measurements behind `oni bench`. Each prints one line per figure with
/// the machine noted, so runs on different machines are not compared blindly.
public enum Benchmarks {
    /// The benchmark groups.
    public enum Group: String, CaseIterable, Sendable {
        case transport, env, resets, store, blas, conv, learner
    }

    /// A description of this machine for the report.
    public static var machine: String {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let memory = Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30)
        var model = "unknown CPU"
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let name = line.split(separator: ":", maxSplits: 1).last {
            model = name.trimmingCharacters(in: .whitespaces)
        }
        return "\(model), \(cores) cores, \(String(format: "%.0f", memory)) GiB"
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// ZeroMQ PUSH/PULL over tcp loopback with 64 KiB and 1 KiB frames, plain and with CURVE
    /// (keys made for the run), and Rollout encode/decode (T=32, B=16, grid observations).
    public static func transport(output: (String) -> Void) throws {
        let plain = ZMQContext()
        let logger = Logger(label: "oni.bench")
        let serverPair = try CurveKeyPair.generate()
        let clientPair = try CurveKeyPair.generate()
        let server = try ZMQContext(
            security: CurveSecurity(server: serverPair, client: nil, serverPublic: serverPair.publicKey, authorized: [clientPair.publicKey]),
            logger: logger)
        let client = try ZMQContext(
            security: CurveSecurity(server: nil, client: clientPair, serverPublic: serverPair.publicKey, authorized: []), logger: logger)
        for (size, count) in [(64 << 10, 20_000), (1 << 10, 200_000)] {
            var rates: [Double] = []
            for (name, receiving, sending) in [("plain", plain, plain), ("CURVE", server, client)] {
                let pull = try ZMQSocket(context: receiving, type: .pull)
                try pull.setReceiveHighWaterMark(10_000)
                try pull.setReceiveTimeout(milliseconds: 5000)
                try pull.bind("tcp://127.0.0.1:*")
                let sender = senderThread(context: sending, endpoint: try pull.lastEndpoint(), frame: Data(repeating: 0xA5, count: size), count: count)
                var received = 0
                let elapsed = try seconds {
                    sender.start()
                    while received < count {
                        guard try pull.receive() != nil else { throw stalled(received, count) }
                        received += 1
                    }
                }
                pull.close()
                let mb = Double(size * count) / elapsed / 1e6
                rates.append(mb)
                output(String(format: "transport  zmq push/pull tcp loopback %6d B frames, %@: %9.0f frames/s  %7.0f MB/s", size, name, Double(count) / elapsed, mb))
            }
            output(String(format: "transport  CURVE costs %.1f× at %d B frames", rates[0] / rates[1], size))
        }

        let env = GridWorld(task: .keyroom)
        let rollout = try syntheticRollout(env: env, steps: 32, envs: 16)
        let codec = FrameCodec()
        let frame = codec.encode(.rollout(rollout.wire))
        let n = 2000
        let encode = seconds { for _ in 0..<n { _ = codec.encode(.rollout(rollout.wire)) } }
        let decode = try seconds {
            for _ in 0..<n {
                guard case let .rollout(wire) = try codec.decode(frame) else { continue }
                _ = try Rollout(wire: wire)
            }
        }
        output(String(format: "transport  rollout T=32 B=16 (%d KiB): encode %7.0f/s  decode+validate %7.0f/s", frame.count / 1024, Double(n) / encode, Double(n) / decode))

        // End to end through MessageChannel: rollouts/s a learner can take in.
        for (name, receiving, sending) in [("plain", plain, plain), ("CURVE", server, client)] {
            let pull = try MessageChannel(transport: receiving, type: .pull, .bind("tcp://127.0.0.1:*"), name: "bench", accepts: [.rollout], logger: logger)
            let total = 5000
            let sender = senderThread(context: sending, endpoint: try pull.lastEndpoint(), frame: frame, count: total)
            var got = 0
            let elapsed = try seconds {
                sender.start()
                while got < total {
                    guard case let .rollout(wire)? = try pull.receive(timeoutMilliseconds: 5000) else { throw stalled(got, total) }
                    _ = try Rollout(wire: wire)
                    got += 1
                }
            }
            pull.close()
            output(String(format: "transport  rollouts received+decoded over tcp, %@: %7.0f rollouts/s = %9.0f env steps/s", name, Double(total) / elapsed, Double(total * 32 * 16) / elapsed))
        }
    }

    static func stalled(_ received: Int, _ expected: Int) -> RuntimeError {
        .invalidConfiguration("benchmark stalled: no frame for 5 s after \(received) of \(expected); is loopback TCP blocked?")
    }

    /// A thread that connects a PUSH socket to `endpoint` and sends `frame` `count` times.
    static func senderThread(context: ZMQContext, endpoint: String, frame: Data, count: Int) -> Thread {
        Thread {
            guard let push = try? ZMQSocket(context: context, type: .push) else { return }
            try? push.setSendHighWaterMark(10_000)
            try? push.setLinger(milliseconds: -1)
            try? push.connect(endpoint)
            for _ in 0..<count { _ = try? push.send(frame) }
            push.close()
        }
    }

    /// A rollout of `steps` × `envs` observations from random play in `env` (random actions and log-probabilities of a uniform policy).
    static func syntheticRollout(env: any Environment, steps: Int, envs: Int, seed: UInt64 = 3) throws -> Rollout {
        var rng = SeededGenerator(seed: seed)
        var episode: UInt64 = 1
        try env.reset(seed: episode)
        let fields = env.observationFields
        var bytes = fields.map { [UInt8](repeating: 0, count: (steps + 1) * envs * $0.byteCount) }
        var dones = [UInt8](repeating: 0, count: steps * envs)
        for row in 0..<((steps + 1) * envs) {
            for (f, field) in fields.enumerated() {
                bytes[f].withUnsafeMutableBytes { raw in
                    env.writeObservation(field: f, into: UnsafeMutableRawBufferPointer(rebasing: raw[(row * field.byteCount)..<((row + 1) * field.byteCount)]))
                }
            }
            if try env.step(rng.below(env.actionCount)).done {
                episode += 1
                try env.reset(seed: episode)
                if row < steps * envs { dones[row] = 1 }
            }
        }
        var observations: [String: Tensor] = [:]
        for (f, field) in fields.enumerated() {
            observations[field.name] = Tensor(elementType: field.elementType, shape: [steps + 1, envs] + field.shape, bytes: Data(bytes[f]))
        }
        let n = steps * envs
        return Rollout(
            workerID: "bench", sequence: 0, policyVersion: -1, numSteps: steps, numEnvs: envs, envName: env.name,
            observations: observations,
            actions: (0..<n).map { _ in Int32(rng.below(env.actionCount)) },
            behaviourLogProbs: [Float](repeating: -Float(Foundation.log(Double(env.actionCount))), count: n),
            rewards: (0..<n).map { $0 % 97 == 0 ? 1 : 0 }, dones: dones, messages: [GridMessage.wall],
            messageIndex: (0..<n).map { $0 % 7 == 0 ? 0 : -1 }, messageEpisodeCount: (0..<n).map { $0 % 7 == 0 ? 1 : 0 },
            episodes: [], workerEnvSteps: UInt64(n))
    }

    /// Grid environment steps per second on one core, random actions.
    public static func env(output: (String) -> Void) {
        for task in GridTask.allCases {
            guard let elapsed = try? stepThrough([GridWorld(task: task)], steps: 2_000_000) else { continue }
            output("env        " + "grid:\(task.rawValue)".padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: "%10.0f steps/s (1 core, with observation)", 2_000_000 / elapsed))
        }
        do {
            for name in ["nethack:score", "nethack:staircase"] {
                let n = 20_000
                let elapsed = try stepThrough([try NetHackEnvironment(name: name)], steps: n)
                output("env        " + name.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%6.0f steps/s (1 core, random actions, resets included)", Double(n) / elapsed))
            }
            // A worker steps 16 games in turn: their states do not all fit in the core's caches.
            let games = try (0..<16).map { _ in try NetHackEnvironment(name: "nethack:score") }
            let elapsed = try stepThrough(games, steps: 20_000)
            output("env        " + "nethack:score".padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%6.0f steps/s (1 core, 16 games stepped in turn, as a worker does)", 20_000 / elapsed))
        } catch {
            output("env        nethack: not measured (\(error))")
        }
    }

    /// Seconds for `steps` random steps (resets included), writing every observation field each step.
    /// Steps `envs` in turn, `n` steps in all, with random actions; each writes its observation.
    private static func stepThrough<E: Environment>(_ envs: [E], steps n: Int) throws -> Double {
        var rng = SeededGenerator(seed: 1)
        var seed: UInt64 = 0
        for env in envs {
            try env.reset(seed: seed)
            seed += 1
        }
        var buffers = envs[0].observationFields.map { [UInt8](repeating: 0, count: $0.byteCount) }
        return try seconds {
            for i in 0..<n {
                let env = envs[i % envs.count]
                if try env.step(rng.below(env.actionCount)).done {
                    seed += 1
                    try env.reset(seed: seed)
                }
                for f in buffers.indices { buffers[f].withUnsafeMutableBytes { env.writeObservation(field: f, into: $0) } }
            }
        }
    }

    /// SQLite WAL inserts of 1 KiB blobs, 1000 rows per transaction, and a full scan.
    public static func store(output: (String) -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oni-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try SQLiteDatabase(path: dir.appendingPathComponent("bench.sqlite").path)
        try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE t (id INTEGER PRIMARY KEY, blob BLOB NOT NULL);")
        let insert = try db.prepare("INSERT INTO t (blob) VALUES (?)")
        let blob = Data(repeating: 7, count: 1024)
        let rows = 200_000
        let write = try seconds {
            for _ in 0..<(rows / 1000) {
                try db.transaction { () throws(StorageError) in
                    for _ in 0..<1000 { try insert.bind(.blob(blob)).run() }
                }
            }
        }
        let scan = try db.prepare("SELECT blob FROM t")
        var bytes = 0
        let read = try seconds { while try scan.step() { bytes += scan.blob(0).count } }
        output(String(format: "store      sqlite WAL 1 KiB blobs, 1000 rows/txn: insert %8.0f rows/s  scan %9.0f rows/s", Double(rows) / write, Double(rows) / read))

        // The learner's path: StoreWriter with real rollouts.
        let path = dir.appendingPathComponent(RunStore.fileName).path
        let writer = try StoreWriter(path: path, logger: Logger(label: "oni.bench"))
        let rollout = try syntheticRollout(env: GridWorld(task: .keyroom), steps: 32, envs: 16)
        let protobuf = try rollout.wire.serializedData()
        let count = 5000
        let elapsed = seconds {
            for i in 0..<count {
                writer.submit(.rollout(StoredRollout(
                    workerID: "bench", sequence: UInt64(i), policyVersion: -1, steps: 512, learnerEnvSteps: UInt64(i * 512),
                    replay: false, receivedUnixMilliseconds: 0, protobuf: protobuf, episodes: [])))
            }
            writer.close()
        }
        output(String(format: "store      StoreWriter rollouts (%d KiB each): %7.0f rollouts/s = %9.0f env steps/s", protobuf.count / 1024, Double(count) / elapsed, Double(count * 512) / elapsed))

        // The blobs as stored: zstd level 3 (on the writer's thread), and read back.
        for name in ["grid:keyroom", "nethack:score"] {
            guard let env = try? EnvironmentFactory.make(name: name) else { continue }
            let raw = try syntheticRollout(env: env, steps: 32, envs: 16).wire.serializedData()
            let n = name.hasPrefix("nethack") ? 100 : 1000
            var blob = Data()
            let packing = seconds { for _ in 0..<n { blob = RolloutBlob.compress(raw) } }
            let unpacking = try seconds { for _ in 0..<n { _ = try RolloutBlob.protobuf(blob, codec: RolloutBlob.Codec.zstd.rawValue) } }
            output(String(
                format: "store      %@ rollout T=32 B=16: %7.1f KiB raw, %6.1f KiB zstd (%.1fx smaller); compress %6.0f µs, decompress %5.0f µs",
                name as NSString, Double(raw.count) / 1024, Double(blob.count) / 1024, Double(raw.count) / Double(blob.count),
                packing / Double(n) * 1e6, unpacking / Double(n) * 1e6))
        }
    }


    /// OpenBLAS sgemm 256×512×512, single thread, and the kernel OpenBLAS chose.
    public static func blas(output: (String) -> Void) throws {
        let m = 256, n = 512, k = 512
        let a = [Float](repeating: 0.5, count: m * k)
        let b = [Float](repeating: 0.25, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        openblas_set_num_threads(1)
        let reps = 50
        let elapsed = seconds {
            for _ in 0..<reps {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
            }
        }
        let gflops = 2.0 * Double(m * n * k * reps) / elapsed / 1e9
        let core = String(cString: openblas_get_corename())
        let coretype = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset"
        output(String(format: "blas       sgemm %dx%dx%d 1 thread: %6.1f GFLOP/s (OpenBLAS kernel %@, OPENBLAS_CORETYPE=%@)", m, n, k, gflops, core as NSString, coretype as NSString))
        let error = SGEMMPeak.referenceError()
        output(String(format: "blas       sgemm against a plain Float64 loop: largest relative error %.2g (%@)", error, error < 1e-4 ? "correct" : "WRONG PRODUCTS"))
        guard error < 1e-4 else {
            throw RuntimeError.invalidConfiguration("OpenBLAS kernel \(core) computes wrong products; choose another with OPENBLAS_CORETYPE")
        }
    }
}
