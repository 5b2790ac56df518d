import Foundation
import OniLearning
import OniNeural

/// Runs a checkpoint's policy network on inputs from a file and writes its outputs, so that
/// another implementation of the same network (PyTorch, in `deploy/tools/torch-side-by-side.sh`)
/// can be compared with Oni's on exactly the same numbers.
///
/// Inputs (safetensors, float32; integers stored exactly): `chars` [rows, height, width],
/// `status` [rows, statusSize], `message` [rows, messageLength] (when the network reads
/// messages), `resets` [rows] and `state` [envs, stateSize] (with a GRU core), rows = steps ×
/// envs step-major, steps and envs in the metadata. Outputs: `logits` [rows, actions], `values`
/// [rows] and `state` [envs, stateSize].
public enum CheckpointForward {
    public static func run(checkpoint: URL, inputs: URL, output: URL) throws -> (rows: Int, signature: String) {
        let (network, metadata) = try CheckpointStore.loadPolicy(from: checkpoint)
        let a = metadata.architecture
        let (tensors, info) = try Safetensors.decode(Data(contentsOf: inputs))
        guard let steps = info["steps"].flatMap(Int.init), let envs = info["envs"].flatMap(Int.init), steps > 0, envs > 0 else {
            throw RuntimeError.invalidConfiguration("\(inputs.path): metadata needs positive integers steps and envs")
        }
        let rows = steps * envs
        func tensor(_ name: String, _ count: Int) throws -> [Float] {
            guard let t = tensors[name] else {
                if count == 0 { return [] }
                throw RuntimeError.invalidConfiguration("\(inputs.path) has no tensor \(name)")
            }
            guard t.values.count == count else {
                throw RuntimeError.invalidConfiguration("\(inputs.path): \(name) has \(t.values.count) values, the network needs \(count)")
            }
            return t.values
        }
        let chars = try tensor("chars", rows * a.height * a.width).map { UInt8(clamping: Int($0)) }
        let status = try tensor("status", rows * a.statusSize).map { Int32($0) }
        let message = try tensor("message", rows * a.messageLength).map { UInt8(clamping: Int($0)) }
        let resets = try tensor("resets", rows).map { UInt8($0 != 0 ? 1 : 0) }
        let state = try tensor("state", envs * a.stateSize)
        let (logits, values, last) = chars.withUnsafeBufferPointer { c in
            status.withUnsafeBufferPointer { s in
                message.withUnsafeBufferPointer { m in
                    network.forward(ObservationRows(chars: c, status: s, message: m), steps: steps, envs: envs, state: state, resets: resets)
                }
            }
        }
        var entries = [
            Safetensors.Entry(name: "logits", shape: [rows, a.actions], values: logits),
            Safetensors.Entry(name: "values", shape: [rows], values: values),
        ]
        if a.stateSize > 0 { entries.append(Safetensors.Entry(name: "state", shape: [envs, a.stateSize], values: last)) }
        try Safetensors.encode(entries, metadata: ["network": a.signature]).write(to: output, options: .atomic)
        return (rows, a.signature)
    }
}
