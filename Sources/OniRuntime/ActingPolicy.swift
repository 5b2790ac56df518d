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
    /// The recurrent core's state per environment, [envs, stateSize]; empty without a core.
    private(set) var state: [Float] = []
    let envs: Int

    init(environment: any Environment, envs: Int) {
        self.envs = envs
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
        if network !== target { state = [Float](repeating: 0, count: envs * architecture.stateSize) }
        network = target
        version = params.version
        learnerID = params.learnerID
    }

    /// Starts environment `env`'s recurrent state afresh (its episode ended).
    func clearState(env: Int) {
        guard let size = network?.architecture.stateSize, size > 0 else { return }
        for j in 0..<size { state[env * size + j] = 0 }
    }

    /// Where `act` writes, from `offset` on: one action, log-probability and value per environment.
    struct Outputs {
        var actions: UnsafeMutablePointer<Int32>
        var logProbs: UnsafeMutablePointer<Float>
        var values: UnsafeMutablePointer<Float>
    }

    /// Actions, their log-probabilities and the state values for every environment
    /// (one step, batched), advancing the recurrent state. Values are nil while acting at random.
    func act(
        chars: UnsafeBufferPointer<UInt8>?, status: UnsafeBufferPointer<Int32>?, message: UnsafeBufferPointer<UInt8>?,
        rng: inout SeededGenerator, into out: Outputs
    ) -> Bool {
        guard version >= 0, let network, let chars else {
            for i in 0..<envs {
                out.actions[i] = Int32(rng.below(actionCount))
                out.logProbs[i] = uniformLogProb
            }
            return false
        }
        let (logits, v, next) = network.forward(
            ObservationRows(chars: chars, status: status, message: message), steps: 1, envs: envs, state: state,
            resets: [UInt8](repeating: 0, count: envs))
        state = next
        let lp = Categorical.logSoftmax(logits, actions: actionCount)
        let chosen = Categorical.sample(logProbs: lp, actions: actionCount, rng: &rng)
        for i in 0..<envs {
            out.actions[i] = Int32(chosen[i])
            out.logProbs[i] = lp[i * actionCount + chosen[i]]
            out.values[i] = v[i]
        }
        return true
    }
}
