import Foundation
import OniCore
import OniLearning
import OniNeural
import Testing

@Suite struct SafetensorsTests {
    let entries = [
        Safetensors.Entry(name: "a.weight", shape: [2, 3], values: [1, -2, 3.5, 0, .pi, -0.25]),
        Safetensors.Entry(name: "b", shape: [1], values: [42]),
        Safetensors.Entry(name: "empty", shape: [0, 4], values: []),
    ]

    @Test func roundTrip() throws {
        let data = Safetensors.encode(entries, metadata: ["k": "v"])
        let header = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(header % 8 == 0)
        let decoded = try Safetensors.decode(data)
        #expect(decoded.metadata == ["k": "v"])
        for entry in entries { #expect(decoded.entries[entry.name] == entry) }
    }

    @Test func damagedFilesAreTypedErrors() {
        let data = Safetensors.encode(entries, metadata: [:])
        #expect(throws: Safetensors.FormatError.self) { try Safetensors.decode(data.prefix(5)) }
        #expect(throws: Safetensors.FormatError.self) { try Safetensors.decode(data.prefix(data.count - 3)) }
        var garbage = data
        garbage[10] = 0xFF
        garbage[11] = 0xFE
        #expect(throws: Safetensors.FormatError.self) { try Safetensors.decode(garbage) }
        var huge = data
        huge[7] = 0x7F  // header length beyond the file
        #expect(throws: Safetensors.FormatError.self) { try Safetensors.decode(huge) }
    }

    @Test func hostileShapesAreRefusedNotTrapped() throws {
        for shape in ["[4611686018427387904]", "[4294967296, 4294967296]", "[-1, 2]"] {
            var json = Data("{\"t\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[0,4]}}".utf8)
            while json.count % 8 != 0 { json.append(0x20) }
            var data = Data()
            withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
            data.append(json)
            data.append(Data(count: 4))
            #expect(throws: Safetensors.FormatError.badOffsets(name: "t")) { try Safetensors.decode(data) }
        }
    }

    /// The test venv's Python (deploy/test.sh makes it and exports ONI_TEST_PYTHON), else python3.
    static var python: String { ProcessInfo.processInfo.environment["ONI_TEST_PYTHON"] ?? "python3" }

    /// The file reads in the reference implementation (Python `safetensors`, as PyTorch users load it).
    @Test func readsInTheReferenceImplementation() throws {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = [Self.python, "-c", "import safetensors.numpy"]
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        try #require(check.terminationStatus == 0, "\(Self.python) with the safetensors package is needed (deploy/test.sh installs it)")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("oni-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Safetensors.encode(entries, metadata: ["oni": "{}"]).write(to: URL(fileURLWithPath: path))
        let script = """
            from safetensors.numpy import load_file
            from safetensors import safe_open
            t = load_file("\(path)")
            print(sorted(t), t["a.weight"].shape, t["a.weight"].dtype, float(t["a.weight"][1, 1]), t["empty"].shape)
            with safe_open("\(path)", "np") as f: print(f.metadata())
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = [Self.python, "-c", script]
        let pipe = Pipe()
        python.standardOutput = pipe
        try python.run()
        python.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(python.terminationStatus == 0)
        #expect(output == "['a.weight', 'b', 'empty'] (2, 3) float32 3.141592502593994 (0, 4)\n{'oni': '{}'}\n")
    }
}

@Suite struct CheckpointStoreTests {
    func temporaryRun() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("oni-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func trainer(seed: UInt64) -> APPOTrainer {
        APPOTrainer(architecture: PolicyNetworkTests.tiny, config: TrainingConfig(), seed: seed)
    }

    /// Gives the trainer a non-trivial optimiser state and version.
    func train(_ t: APPOTrainer, updates: Int) throws {
        let a = t.network.architecture
        let steps = 2, envs = 2, n = 4
        let rollout = Rollout(
            workerID: "w", sequence: 0, policyVersion: -1, numSteps: steps, numEnvs: envs, envName: "test",
            observations: [
                "chars": Tensor([UInt8](repeating: 46, count: (steps + 1) * envs * a.height * a.width), shape: [steps + 1, envs, a.height, a.width]),
                "status": Tensor([Int32](repeating: 1, count: (steps + 1) * envs * a.statusSize), shape: [steps + 1, envs, a.statusSize]),
                "message": Tensor([UInt8](repeating: 72, count: (steps + 1) * envs * a.messageLength), shape: [steps + 1, envs, a.messageLength]),
            ],
            actions: [0, 1, 2, 1], behaviourLogProbs: [Float](repeating: -1.1, count: n), rewards: [0, 1, 0, 1], dones: [0, 0, 1, 0],
            messages: [], messageIndex: [-1, -1, -1, -1], messageEpisodeCount: [0, 0, 0, 0], episodes: [], workerEnvSteps: 0)
        for _ in 0..<updates { t.update(try TrainingBatch(rollout: rollout, architecture: a)) }
    }

    @Test func saveAndLoadRestoreWeightsOptimizerAndVersion() throws {
        let run = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: run) }
        let store = CheckpointStore(runDirectory: run)
        let source = trainer(seed: 1)
        try train(source, updates: 3)
        try store.save(source, envSteps: 1234)
        let target = trainer(seed: 2)
        guard case let .loaded(metadata, skipped) = store.load(into: target) else {
            Issue.record("no checkpoint loaded")
            return
        }
        #expect(skipped.isEmpty)
        #expect(metadata.version == 3 && metadata.envSteps == 1234 && metadata.optimizerSteps == 3)
        #expect(target.version == 3)
        #expect(target.network.parameters.map(\.value) == source.network.parameters.map(\.value))
        #expect(target.optimizer.secondMoments == source.optimizer.secondMoments)
        // Both continue identically.
        try train(source, updates: 1)
        try train(target, updates: 1)
        #expect(target.network.parameters.map(\.value) == source.network.parameters.map(\.value))
    }

    @Test func aCorruptNewestCheckpointFallsBackToThePreviousOne() throws {
        let run = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: run) }
        let store = CheckpointStore(runDirectory: run)
        let source = trainer(seed: 1)
        try train(source, updates: 1)
        try store.save(source, envSteps: 10)
        try train(source, updates: 1)
        try store.save(source, envSteps: 20)
        // Truncate the newest, as a crash during a copy might.
        let data = try Data(contentsOf: store.latest)
        try data.prefix(data.count / 2).write(to: store.latest)
        let target = trainer(seed: 2)
        guard case let .loaded(metadata, skipped) = store.load(into: target) else {
            Issue.record("the previous checkpoint was not used")
            return
        }
        #expect(metadata.version == 1)
        #expect(skipped.count == 1)
        #expect("\(skipped[0])".contains("corrupt"))
        // Both damaged: nothing usable, and the trainer keeps its own weights.
        try Data("not a checkpoint".utf8).write(to: store.previous)
        let fresh = trainer(seed: 3)
        let before = fresh.network.parameters.map(\.value)
        guard case let .unusable(problems) = store.load(into: fresh) else {
            Issue.record("damaged checkpoints were loaded")
            return
        }
        #expect(problems.count == 2)
        #expect(fresh.network.parameters.map(\.value) == before)
        #expect(fresh.version == 0)
    }

    @Test func anotherNetworksCheckpointIsRefused() throws {
        let run = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: run) }
        let store = CheckpointStore(runDirectory: run)
        try store.save(trainer(seed: 1), envSteps: 0)
        var other = PolicyNetworkTests.tiny
        other.hidden = 7
        let t = APPOTrainer(architecture: other, config: TrainingConfig(), seed: 1)
        guard case let .unusable(problems) = store.load(into: t) else {
            Issue.record("loaded a checkpoint of another network")
            return
        }
        #expect("\(problems[0])".contains("does not fit"))
        #expect(store.load(into: trainer(seed: 5)).isLoaded)
        #expect(CheckpointStore(runDirectory: run.appendingPathComponent("none")).load(into: t).isNone)
    }

    /// Rewrites the saved checkpoint's metadata with `edit` applied to its JSON object.
    func rewriteMetadata(_ store: CheckpointStore, _ edit: (inout [String: Any]) -> Void) throws {
        let decoded = try Safetensors.decode(Data(contentsOf: store.latest))
        var json = try JSONSerialization.jsonObject(with: Data(decoded.metadata["oni"]!.utf8)) as! [String: Any]
        edit(&json)
        let text = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
        try Safetensors.encode(Array(decoded.entries.values), metadata: ["oni": text]).write(to: store.latest)
    }

    /// Checkpoints carry their format version: a file from before the field (version 1) loads,
    /// one from a newer layout is refused with an error naming both versions.
    @Test func theFormatVersionIsCheckedByName() throws {
        let run = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: run) }
        let store = CheckpointStore(runDirectory: run)
        let source = trainer(seed: 1)
        try train(source, updates: 2)
        try store.save(source, envSteps: 10)
        #expect(try Safetensors.decode(Data(contentsOf: store.latest)).metadata["oni"]!.contains("\"formatVersion\" : 2"))
        try rewriteMetadata(store) { $0.removeValue(forKey: "formatVersion") }
        guard case let .loaded(old, _) = store.load(into: trainer(seed: 3)) else {
            Issue.record("a version-1 checkpoint was not loaded")
            return
        }
        #expect(old.formatVersion == 1 && old.version == 2)
        try rewriteMetadata(store) { $0["formatVersion"] = 9 }
        try? FileManager.default.removeItem(at: store.previous)
        guard case let .unusable(problems) = store.load(into: trainer(seed: 3)) else {
            Issue.record("a checkpoint of an unknown format was loaded")
            return
        }
        guard case let .unsupportedFormat(_, found, supported) = problems[0] else {
            Issue.record("wrong error: \(problems[0])")
            return
        }
        #expect(found == 9 && supported == CheckpointMetadata.currentFormatVersion)
        #expect("\(problems[0])".contains("format version 9") && "\(problems[0])".contains("1 to 2"))
    }
}

extension CheckpointStore.LoadOutcome {
    var isLoaded: Bool { if case .loaded = self { true } else { false } }
    var isNone: Bool { if case .none = self { true } else { false } }
}
