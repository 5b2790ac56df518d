import Foundation
import OniNeural

/// A text reward model's weights on disk (safetensors, float32), with its kind,
/// version and feature set in the metadata: what `oni replay fit-reward` writes,
/// `--reward-init` reads, and checkpoints keep beside the policy.
public enum RewardModelFile {
    /// The features the models read; a file made for other features is refused.
    public static let features = "char-1-3-gram-fnv-\(MessageFeatures.buckets)"

    /// Writes `parameters` to `path` atomically.
    public static func save(_ parameters: [Parameter<Float>], kind: IntrinsicRewardType, version: Int, to path: String) throws {
        let entries = parameters.map { Safetensors.Entry(name: $0.name, shape: $0.shape, values: $0.value) }
        let data = Safetensors.encode(entries, metadata: ["kind": kind.rawValue, "version": "\(version)", "features": features])
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Reads `path` into `parameters` (same names and shapes) and returns the stored version.
    public static func load(into parameters: [Parameter<Float>], kind: IntrinsicRewardType, from path: String) throws(RewardModelFileError) -> Int {
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
