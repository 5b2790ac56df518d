import Foundation
import OniCore
import OniLearning
import OniNeural
import OniWire

/// How a worker picks actions: uniformly at random until it has loaded Params
/// for its environment's network, then by sampling that policy (batched over
/// all its environments).
final class ActingPolicy {
    /// The network the learner's Params describe; nil until the first Params.
    private(set) var network: PolicyNetwork<Float>?
    /// What this worker's environment needs of a network; nil if it has no map to see.
    let environmentShape: PolicyArchitecture?
    let actionCount: Int
    /// Version of the loaded Params; -1 while acting uniformly.
    private(set) var version: Int64 = -1
    /// The learner start the loaded Params came from.
    private var learnerID = ""
    private let uniformLogProb: Float

    init(environment: any Environment) {
        environmentShape = PolicyArchitecture(environment: environment)
        actionCount = environment.actionCount
        uniformLogProb = -Float(Foundation.log(Double(environment.actionCount)))
    }

    /// Loads newer Params (older or equal versions are ignored), building the
    /// network they describe if it is new and fits this worker's environment.
    func load(_ params: Oni_V1_Params) throws {
        // Versions only compare within one learner start: a restarted learner may count from an older checkpoint.
        guard params.version > version || params.learnerID != learnerID else { return }
        let architecture = try PolicyParams.architecture(of: params)
        guard architecture.isReasonable, let shape = environmentShape, architecture.fits(shape) else {
            throw PolicyError.architectureMismatch(expected: environmentShape?.signature ?? "no map observation", found: architecture.signature)
        }
        let target = network?.architecture == architecture ? network! : PolicyNetwork<Float>(architecture: architecture, seed: 0)
        try PolicyParams.load(params, into: target)
        network = target
        version = params.version
        learnerID = params.learnerID
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
