import Foundation
import OniCore
import OniLearning
import OniNeural
import OniWire

/// Policy weights to and from the wire's Params message.
public enum PolicyParams {
    /// The network's weights as a Params message of `version`.
    public static func encode(_ network: PolicyNetwork<Float>, version: Int64, learnerEnvSteps: UInt64, learnerID: String, runID: String = "") -> Oni_V1_Params {
        var params = Oni_V1_Params()
        params.learnerID = learnerID
        params.runID = runID
        params.version = version
        params.learnerEnvSteps = learnerEnvSteps
        params.architecture = encodeArchitecture(network.architecture)
        params.tensors = network.exportWeights().map { w in
            var named = Oni_V1_NamedTensor()
            named.name = w.name
            named.tensor = Tensor(w.values, shape: w.shape).wire
            return named
        }
        return params
    }

    /// The architecture as the JSON text Params carry.
    public static func encodeArchitecture(_ architecture: PolicyArchitecture) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(architecture)) ?? Data(), as: UTF8.self)
    }

    /// The architecture a Params message was made for.
    public static func architecture(of params: Oni_V1_Params) throws -> PolicyArchitecture {
        do {
            return try JSONDecoder().decode(PolicyArchitecture.self, from: Data(params.architecture.utf8))
        } catch {
            throw PolicyError.architectureMismatch(expected: "a PolicyArchitecture in JSON", found: String(params.architecture.prefix(200)))
        }
    }

    /// Loads a Params message into `network`, refusing other architectures and malformed tensors.
    public static func load(_ params: Oni_V1_Params, into network: PolicyNetwork<Float>) throws {
        let architecture = try architecture(of: params)
        guard architecture == network.architecture else {
            throw PolicyError.architectureMismatch(expected: network.architecture.signature, found: architecture.signature)
        }
        var weights: [String: (shape: [Int], values: [Float])] = [:]
        for named in params.tensors {
            let tensor = try Tensor(wire: named.tensor)
            guard tensor.elementType == .float32 else { throw WireConversionError("parameter \(named.name) is not float32") }
            weights[named.name] = (tensor.shape, tensor.floats)
        }
        try network.importWeights(weights)
    }
}
