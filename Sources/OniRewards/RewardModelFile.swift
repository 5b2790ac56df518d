import Foundation
import OniNeural

/// A text reward model's weights on disk (safetensors, float32), with its kind,
/// version and feature set in the metadata: what `oni replay fit-reward` writes,
/// `--reward-init` reads, and checkpoints keep beside the policy.
public enum RewardModelFile {
    /// The features the models read; a file made for other features is refused.
    public static let features = "char-1-3-gram-fnv-\(MessageFeatures.buckets)"

    /// Writes `parameters` to `path` atomically, with `optimizer`'s state (Adam's moments and
    /// step count, `optimizer.m.NAME`/`optimizer.v.NAME`) when given, so training resumes where it was.
    public static func save(
        _ parameters: [Parameter<Float>], optimizer: Adam<Float>? = nil, kind: IntrinsicRewardType, version: Int, features: String = features,
        to path: String
    ) throws {
        var entries = parameters.map { Safetensors.Entry(name: $0.name, shape: $0.shape, values: $0.value) }
        var metadata = ["kind": kind.rawValue, "version": "\(version)", "features": features]
        if let optimizer {
            for (i, p) in optimizer.parameters.enumerated() {
                entries.append(Safetensors.Entry(name: "optimizer.m.\(p.name)", shape: p.shape, values: optimizer.firstMoments[i]))
                entries.append(Safetensors.Entry(name: "optimizer.v.\(p.name)", shape: p.shape, values: optimizer.secondMoments[i]))
            }
            metadata["optimizer_steps"] = "\(optimizer.steps)"
        }
        let data = Safetensors.encode(entries, metadata: metadata)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Reads `path` into `parameters` (same names and shapes) and returns the stored version.
    /// `optimizer` takes the saved optimiser state when the file has it (a file without, such as
    /// one saved before it was kept, leaves the optimiser fresh); a state that does not fit is an error.
    public static func load(
        into parameters: [Parameter<Float>], optimizer: Adam<Float>? = nil, kind: IntrinsicRewardType, features: String = features,
        from path: String
    ) throws(RewardModelFileError) -> Int {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
        let decoded: (entries: [String: Safetensors.Entry], metadata: [String: String])
        do {
            decoded = try Safetensors.decode(data)
        } catch {
            throw .invalid(path: path, reason: "\(error)")
        }
        guard decoded.metadata["kind"] == kind.rawValue else {
            throw .invalid(path: path, reason: "holds a \(decoded.metadata["kind"] ?? "unknown") model, not a \(kind.rawValue) one")
        }
        guard decoded.metadata["features"] == features else {
            throw .invalid(path: path, reason: "made for features \(decoded.metadata["features"] ?? "unknown"), these are \(features)")
        }
        for parameter in parameters {
            guard let entry = decoded.entries[parameter.name], entry.shape == parameter.shape else {
                throw .invalid(path: path, reason: "tensor \(parameter.name) \(parameter.shape) missing or of another shape")
            }
            guard entry.values.allSatisfy(\.isFinite) else { throw .invalid(path: path, reason: "tensor \(parameter.name) holds non-finite values") }
        }
        if let optimizer, let stepsText = decoded.metadata["optimizer_steps"] {
            let m = optimizer.parameters.map { decoded.entries["optimizer.m.\($0.name)"]?.values ?? [] }
            let v = optimizer.parameters.map { decoded.entries["optimizer.v.\($0.name)"]?.values ?? [] }
            guard let steps = Int(stepsText), optimizer.restore(steps: steps, firstMoments: m, secondMoments: v) else {
                throw .invalid(path: path, reason: "its optimiser state is missing parts, of another shape or not finite")
            }
        }
        for parameter in parameters { parameter.value = decoded.entries[parameter.name]!.values }
        return Int(decoded.metadata["version"] ?? "") ?? 0
    }
}

/// Why a reward-model file cannot be used.
public enum RewardModelFileError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String)
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path): "cannot read the reward model \(path)"
        case let .invalid(path, reason): "reward model \(path): \(reason)"
        }
    }
}
