import Foundation
import OniNeural

/// What a checkpoint says about itself (stored in the safetensors metadata and beside it as JSON).
public struct CheckpointMetadata: Sendable, Codable, Equatable {
    /// The layout this build writes. 1: the first (no `formatVersion` field); 2: the same tensors,
    /// the version recorded. A later layout is refused by name, never half-read.
    public static let currentFormatVersion = 2
    /// The checkpoint layout's version (1 when the file predates the field).
    public var formatVersion: Int
    /// Policy version (number of updates) at the save.
    public var version: Int64
    /// Adam steps taken.
    public var optimizerSteps: Int
    /// Environment steps the learner had consumed.
    public var envSteps: UInt64
    /// The network the weights belong to.
    public var architecture: PolicyArchitecture
    /// Wall-clock time of the save.
    public var savedUnixMilliseconds: Int64
    /// The environment the policy was trained on (nil in checkpoints saved before it was recorded).
    public var env: String?

    public init(
        version: Int64, optimizerSteps: Int, envSteps: UInt64, architecture: PolicyArchitecture, savedUnixMilliseconds: Int64, env: String? = nil
    ) {
        formatVersion = Self.currentFormatVersion
        self.version = version
        self.optimizerSteps = optimizerSteps
        self.envSteps = envSteps
        self.architecture = architecture
        self.savedUnixMilliseconds = savedUnixMilliseconds
        self.env = env
    }

    private enum CodingKeys: String, CodingKey {
        case formatVersion, version, optimizerSteps, envSteps, architecture, savedUnixMilliseconds, env
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        formatVersion = try c.decodeIfPresent(Int.self, forKey: .formatVersion) ?? 1
        version = try c.decode(Int64.self, forKey: .version)
        optimizerSteps = try c.decode(Int.self, forKey: .optimizerSteps)
        envSteps = try c.decode(UInt64.self, forKey: .envSteps)
        architecture = try c.decode(PolicyArchitecture.self, forKey: .architecture)
        savedUnixMilliseconds = try c.decode(Int64.self, forKey: .savedUnixMilliseconds)
        env = try c.decodeIfPresent(String.self, forKey: .env)
    }
}

/// Errors reading checkpoints.
public enum CheckpointError: Error, CustomStringConvertible {
    /// The file is not valid safetensors.
    case format(path: String, error: Safetensors.FormatError)
    /// The file is valid but does not fit this trainer (other network, missing tensors, bad metadata).
    case mismatch(path: String, reason: String)
    /// The file was written in a layout this build does not know (by a newer Oni).
    case unsupportedFormat(path: String, found: Int, supported: Int)

    public var description: String {
        switch self {
        case let .format(path, error): "checkpoint \(path) is corrupt: \(error)"
        case let .mismatch(path, reason): "checkpoint \(path) does not fit: \(reason)"
        case let .unsupportedFormat(path, found, supported):
            "checkpoint \(path) has format version \(found); this build reads versions 1 to \(supported) (written by a newer Oni?)"
        }
    }
}

/// The learner's checkpoints in `RUN_DIR/checkpoints/`: `policy.safetensors`
/// (weights and Adam moments, float32) and `policy.json` (metadata), written
/// atomically (temporary file, then rename). The previous checkpoint is kept
/// as `policy.previous.safetensors`; if the newest is corrupt or truncated,
/// loading says so and falls back to it.
public struct CheckpointStore {
    public let directory: URL
    public var latest: URL { directory.appendingPathComponent("policy.safetensors") }
    public var previous: URL { directory.appendingPathComponent("policy.previous.safetensors") }
    public var metadataFile: URL { directory.appendingPathComponent("policy.json") }

    /// The milestone kept for `envSteps` (`--keep-checkpoints-every`).
    public func milestone(envSteps: UInt64) -> URL {
        directory.appendingPathComponent("step-" + String(repeating: "0", count: max(0, 9 - String(envSteps).count)) + "\(envSteps).safetensors")
    }

    /// The milestones kept so far, by environment steps.
    public func milestones() -> [(envSteps: UInt64, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (UInt64, URL)? in
            guard name.hasPrefix("step-"), name.hasSuffix(".safetensors"), let steps = UInt64(name.dropFirst(5).dropLast(12)) else { return nil }
            return (steps, directory.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// Keeps the latest checkpoint as the milestone for `envSteps` (a hard link: no copy, and the
    /// next save's rotation leaves it alone).
    public func keepMilestone(envSteps: UInt64) throws {
        let target = milestone(envSteps: envSteps)
        try? FileManager.default.removeItem(at: target)
        if link(latest.path, target.path) != 0 { try FileManager.default.copyItem(at: latest, to: target) }
    }

    public init(runDirectory: URL) {
        directory = runDirectory.appendingPathComponent("checkpoints")
    }

    /// Saves the trainer's state, keeping the last good checkpoint as the previous one.
    public func save(_ trainer: APPOTrainer, envSteps: UInt64, env: String? = nil) throws {
        // Never rotate a good checkpoint out for a broken one.
        guard trainer.network.parameters.allSatisfy({ $0.value.allSatisfy(\.isFinite) }) else {
            throw CheckpointError.mismatch(path: latest.path, reason: "refusing to save non-finite weights")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let metadata = CheckpointMetadata(
            version: trainer.version, optimizerSteps: trainer.optimizer.steps, envSteps: envSteps,
            architecture: trainer.network.architecture, savedUnixMilliseconds: Int64(Date().timeIntervalSince1970 * 1000), env: env)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let json = String(decoding: try encoder.encode(metadata), as: UTF8.self)
        var entries: [Safetensors.Entry] = []
        for (i, p) in trainer.network.parameters.enumerated() {
            entries.append(Safetensors.Entry(name: p.name, shape: p.shape, values: p.value))
            entries.append(Safetensors.Entry(name: "optimizer.m.\(p.name)", shape: p.shape, values: trainer.optimizer.firstMoments[i]))
            entries.append(Safetensors.Entry(name: "optimizer.v.\(p.name)", shape: p.shape, values: trainer.optimizer.secondMoments[i]))
        }
        let data = Safetensors.encode(entries, metadata: ["oni": json])
        let temporary = directory.appendingPathComponent(".policy.\(getpid()).tmp")
        try data.write(to: temporary)
        let handle = try FileHandle(forWritingTo: temporary)
        try handle.synchronize()  // on disk before it replaces anything
        try handle.close()
        let fm = FileManager.default
        if fm.fileExists(atPath: latest.path) {
            if fm.fileExists(atPath: previous.path) { try fm.removeItem(at: previous) }
            try fm.moveItem(at: latest, to: previous)
        }
        guard rename(temporary.path, latest.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: latest.path])
        }
        try Data(json.utf8).write(to: metadataFile, options: .atomic)
        // The renames on disk too, before anyone counts on them (a crash must not undo them).
        let descriptor = open(directory.path, O_RDONLY)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
    }

    /// What loading found.
    public enum LoadOutcome {
        /// No checkpoint exists: the trainer keeps its fresh weights.
        case none
        /// A checkpoint was loaded; `skipped` lists newer ones that were unusable and why.
        case loaded(CheckpointMetadata, skipped: [CheckpointError])
        /// Checkpoints exist but none is usable: the trainer keeps its fresh weights.
        case unusable([CheckpointError])
    }

    /// Loads the newest usable checkpoint into `trainer`, falling back to the previous one.
    public func load(into trainer: APPOTrainer) -> LoadOutcome {
        var problems: [CheckpointError] = []
        for url in [latest, previous] where FileManager.default.fileExists(atPath: url.path) {
            do {
                return .loaded(try load(url, into: trainer), skipped: problems)
            } catch let error as CheckpointError {
                problems.append(error)
            } catch {
                problems.append(.mismatch(path: url.path, reason: "\(error)"))
            }
        }
        return problems.isEmpty ? .none : .unusable(problems)
    }

    /// A checkpoint file's tensors and metadata, checked for format and version.
    private static func decode(_ url: URL) throws -> (entries: [String: Safetensors.Entry], metadata: CheckpointMetadata) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CheckpointError.mismatch(path: url.path, reason: "cannot read it: \(error.localizedDescription)")
        }
        let decoded: (entries: [String: Safetensors.Entry], metadata: [String: String])
        do {
            decoded = try Safetensors.decode(data)
        } catch {
            throw CheckpointError.format(path: url.path, error: error)
        }
        guard let json = decoded.metadata["oni"], let metadata = try? JSONDecoder().decode(CheckpointMetadata.self, from: Data(json.utf8)) else {
            throw CheckpointError.mismatch(path: url.path, reason: "no Oni metadata")
        }
        guard (1...CheckpointMetadata.currentFormatVersion).contains(metadata.formatVersion) else {
            throw CheckpointError.unsupportedFormat(path: url.path, found: metadata.formatVersion, supported: CheckpointMetadata.currentFormatVersion)
        }
        guard metadata.architecture.isReasonable else {
            throw CheckpointError.mismatch(path: url.path, reason: "implausible architecture \(metadata.architecture.signature)")
        }
        return (decoded.entries, metadata)
    }

    /// The policy network a checkpoint file holds (its weights only, for acting), and its metadata.
    public static func loadPolicy(from url: URL) throws -> (network: PolicyNetwork<Float>, metadata: CheckpointMetadata) {
        let (entries, metadata) = try decode(url)
        let network = PolicyNetwork<Float>(architecture: metadata.architecture, seed: 0)
        var weights: [String: (shape: [Int], values: [Float])] = [:]
        for p in network.parameters {
            guard let w = entries[p.name], w.shape == p.shape, w.values.count == p.count, w.values.allSatisfy(\.isFinite) else {
                throw CheckpointError.mismatch(path: url.path, reason: "tensor \(p.name) is missing, has the wrong shape or non-finite values")
            }
            weights[p.name] = (w.shape, w.values)
        }
        do {
            try network.importWeights(weights)
        } catch {
            throw CheckpointError.mismatch(path: url.path, reason: "\(error)")
        }
        return (network, metadata)
    }

    private func load(_ url: URL, into trainer: APPOTrainer) throws -> CheckpointMetadata {
        let (entries, metadata) = try Self.decode(url)
        let decoded = (entries: entries, metadata: metadata)
        guard metadata.architecture == trainer.network.architecture else {
            throw CheckpointError.mismatch(
                path: url.path, reason: "saved for \(metadata.architecture.signature), training \(trainer.network.architecture.signature)")
        }
        let parameters = trainer.network.parameters
        var weights: [String: (shape: [Int], values: [Float])] = [:]
        var first: [[Float]] = [], second: [[Float]] = []
        for p in parameters {
            guard let w = decoded.entries[p.name], let m = decoded.entries["optimizer.m.\(p.name)"],
                  let v = decoded.entries["optimizer.v.\(p.name)"]
            else { throw CheckpointError.mismatch(path: url.path, reason: "tensor \(p.name) or its optimizer state is missing") }
            weights[p.name] = (w.shape, w.values)
            first.append(m.values)
            second.append(v.values)
        }
        // Check everything, then apply: a rejected file leaves the trainer as it was.
        for (i, p) in parameters.enumerated() {
            guard let w = weights[p.name], w.shape == p.shape, w.values.count == p.count, w.values.allSatisfy(\.isFinite),
                  first[i].count == p.count, second[i].count == p.count
            else { throw CheckpointError.mismatch(path: url.path, reason: "tensor \(p.name) has the wrong shape or non-finite values") }
        }
        let saved = (steps: trainer.optimizer.steps, first: trainer.optimizer.firstMoments, second: trainer.optimizer.secondMoments)
        guard metadata.version >= 0, trainer.optimizer.restore(steps: metadata.optimizerSteps, firstMoments: first, secondMoments: second) else {
            throw CheckpointError.mismatch(path: url.path, reason: "optimizer state is invalid (negative steps, non-finite or negative moments)")
        }
        do {
            try trainer.network.importWeights(weights)
        } catch {
            _ = trainer.optimizer.restore(steps: saved.steps, firstMoments: saved.first, secondMoments: saved.second)
            throw CheckpointError.mismatch(path: url.path, reason: "\(error)")
        }
        trainer.restoreVersion(metadata.version)
        return metadata
    }
}
