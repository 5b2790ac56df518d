import Foundation
import OniCore
import OniLearning
import OniNeural
import OniWire

/// How a worker picks actions: uniformly at random until it has loaded Params
/// for its environment's network, then by sampling that policy (batched over
/// all its environments).
final class ActingPolicy {
    let network: PolicyNetwork<Float>?
    let actionCount: Int
    /// Version of the loaded Params; -1 while acting uniformly.
    private(set) var version: Int64 = -1
    private let uniformLogProb: Float

    init(environment: any Environment) {
        network = PolicyArchitecture(environment: environment).map { PolicyNetwork(architecture: $0, seed: 0) }
        actionCount = environment.actionCount
        uniformLogProb = -Float(Foundation.log(Double(environment.actionCount)))
    }

    /// Loads newer Params; older or equal versions are ignored.
    func load(_ params: Oni_V1_Params) throws {
        guard let network, params.version > version else { return }
        try PolicyParams.load(params, into: network)
        version = params.version
    }

    /// Actions and their log-probabilities for `batch` environments whose observations are given.
    func act(
        chars: UnsafeBufferPointer<UInt8>?, status: UnsafeBufferPointer<Int32>?, batch: Int, rng: inout SeededGenerator,
        actions: inout [Int32], logProbs: inout [Float], offset: Int
    ) {
        guard version >= 0, let network, let chars else {
            for i in 0..<batch {
                actions[offset + i] = Int32(rng.below(actionCount))
                logProbs[offset + i] = uniformLogProb
            }
            return
        }
        let (logits, _) = network.forward(chars: chars, status: status ?? UnsafeBufferPointer(start: nil, count: 0), batch: batch)
        let lp = Categorical.logSoftmax(logits, actions: actionCount)
        let chosen = Categorical.sample(logProbs: lp, actions: actionCount, rng: &rng)
        for i in 0..<batch {
            actions[offset + i] = Int32(chosen[i])
            logProbs[offset + i] = lp[i * actionCount + chosen[i]]
        }
    }
}
