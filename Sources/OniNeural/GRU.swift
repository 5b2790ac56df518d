import OniCore

/// A gated recurrent unit in PyTorch's convention (gates r, z, n):
///
///     r = σ(W_ir x + b_ir + W_hr h + b_hr)
///     z = σ(W_iz x + b_iz + W_hz h + b_hz)
///     n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
///     h' = (1 − z) ⊙ n + z ⊙ h
///
/// `forward` runs a whole sequence [steps, batch, input] from an initial
/// state, zeroing the state of an example where `resets` says an episode
/// began; `backward` is back-propagation through that sequence (truncated at
/// its start: the initial state is a constant). Acting is a one-step forward.
public final class GRU<S: Scalar> {
    public let inputSize: Int
    public let hiddenSize: Int
    public let weightIH: Parameter<S>  // [3H, input]
    public let weightHH: Parameter<S>  // [3H, H]
    public let biasIH: Parameter<S>  // [3H]
    public let biasHH: Parameter<S>  // [3H]
    public var parameters: [Parameter<S>] { [weightIH, weightHH, biasIH, biasHH] }

    // What backward needs, per step t and example b.
    private var steps = 0, batch = 0
    private var input: [S] = []  // let go after backward
    private var previous: [S] = []  // h_{t-1} after resets, [T, B, H]
    private var gates: [S] = []  // r, z, n, [T, B, 3H]
    private var hiddenCandidate: [S] = []  // W_hn h + b_hn, [T, B, H]
    // Kept between passes (see `Array.reuse(count:)`): forward's …
    private var fromInput: [S] = [], fromHidden: [S] = [], state: [S] = [], output: [S] = []
    // … and backward's.
    private var dInputSide: [S] = [], dHiddenSide: [S] = [], dState: [S] = [], dStep: [S] = [], dPrevious: [S] = [], inputGradient: [S] = []

    public init(name: String, inputSize: Int, hiddenSize: Int, rng: inout SeededGenerator) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        let h = hiddenSize
        // Each gate's block orthogonal, unit gain (tanh/sigmoid units); biases zero.
        var ih = [S](), hh = [S]()
        for _ in 0..<3 {
            ih += Initialization.orthogonal(rows: h, columns: inputSize, gain: 1, rng: &rng) as [S]
            hh += Initialization.orthogonal(rows: h, columns: h, gain: 1, rng: &rng) as [S]
        }
        weightIH = Parameter(name: "\(name).weight_ih", shape: [3 * h, inputSize], value: ih)
        weightHH = Parameter(name: "\(name).weight_hh", shape: [3 * h, h], value: hh)
        biasIH = Parameter(name: "\(name).bias_ih", shape: [3 * h], value: [S](repeating: 0, count: 3 * h))
        biasHH = Parameter(name: "\(name).bias_hh", shape: [3 * h], value: [S](repeating: 0, count: 3 * h))
    }

    /// Runs `steps` steps of `batch` examples. `input` is [steps, batch, inputSize],
    /// `initial` [batch, hiddenSize]; `resets[t·batch + b]` ≠ 0 zeroes example b's
    /// state before step t. Returns the states after each step, [steps, batch, hiddenSize].
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func forward(_ input: [S], initial: [S], resets: [UInt8], steps: Int, batch: Int) -> [S] {
        let h = hiddenSize, rows = steps * batch
        precondition(input.count == rows * inputSize && initial.count == batch * h && resets.count == rows, "GRU: sizes do not match")
        self.steps = steps
        self.batch = batch
        self.input = input
        // Input contributions for every step in one product: [T·B, 3H].
        fromInput.reuse(count: rows * 3 * h)
        fromInput.withUnsafeMutableBufferPointer { f in biasIH.value.withUnsafeBufferPointer { MatMul.fillRows(f, rows: rows, with: $0) } }
        MatMul.multiply(input, weightIH.value, into: &fromInput, m: rows, n: 3 * h, k: inputSize, transposeB: true, accumulate: true)
        previous.reuse(count: rows * h)
        gates.reuse(count: rows * 3 * h)
        hiddenCandidate.reuse(count: rows * h)
        output.reuse(count: rows * h)
        state.reuse(count: batch * h)
        fromHidden.reuse(count: batch * 3 * h)
        state.withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: initial) }
        for t in 0..<steps {
            state.withUnsafeMutableBufferPointer { state in
                for b in 0..<batch where resets[t * batch + b] != 0 { (state.baseAddress! + b * h).update(repeating: 0, count: h) }
            }
            fromHidden.withUnsafeMutableBufferPointer { f in biasHH.value.withUnsafeBufferPointer { MatMul.fillRows(f, rows: batch, with: $0) } }
            MatMul.multiply(state, weightHH.value, into: &fromHidden, m: batch, n: 3 * h, k: h, transposeB: true, accumulate: true)
            fromInput.withUnsafeBufferPointer { fromInput in
            fromHidden.withUnsafeBufferPointer { fromHidden in
            state.withUnsafeMutableBufferPointer { state in
            previous.withUnsafeMutableBufferPointer { previous in
            gates.withUnsafeMutableBufferPointer { gates in
            hiddenCandidate.withUnsafeMutableBufferPointer { hiddenCandidate in
            output.withUnsafeMutableBufferPointer { output in
                for b in 0..<batch {
                    let row = t * batch + b
                    Self.step(
                        fromInput: fromInput.baseAddress! + row * 3 * h, fromHidden: fromHidden.baseAddress! + b * 3 * h,
                        state: state.baseAddress! + b * h, previous: previous.baseAddress! + row * h, gates: gates.baseAddress! + row * 3 * h,
                        hiddenCandidate: hiddenCandidate.baseAddress! + row * h, output: output.baseAddress! + row * h, h: h)
                }
            } } } } } } }
        }
        return output
    }

    /// One example's step: gates from the input and hidden sides ([3H] each, biases included),
    /// the new state written to `state` and `output`, what backward needs kept. Pointers and a
    /// plain index (no checked index arithmetic) so the loop vectorises.
    @inline(__always)
    private static func step(
        fromInput: UnsafePointer<S>, fromHidden: UnsafePointer<S>, state: UnsafeMutablePointer<S>, previous: UnsafeMutablePointer<S>,
        gates: UnsafeMutablePointer<S>, hiddenCandidate: UnsafeMutablePointer<S>, output: UnsafeMutablePointer<S>, h: Int
    ) {
        let (inputR, inputZ, inputN) = (fromInput, fromInput + h, fromInput + 2 * h)
        let (hiddenR, hiddenZ, hiddenN) = (fromHidden, fromHidden + h, fromHidden + 2 * h)
        let (gateR, gateZ, gateN) = (gates, gates + h, gates + 2 * h)
        for j in 0..<h {
            let r = S.sigmoid(inputR[j] + hiddenR[j])
            let z = S.sigmoid(inputZ[j] + hiddenZ[j])
            let candidate = hiddenN[j]
            let n = S.tanh(inputN[j] + r * candidate)
            let old = state[j]
            previous[j] = old
            gateR[j] = r
            gateZ[j] = z
            gateN[j] = n
            hiddenCandidate[j] = candidate
            let new = (1 - z) * n + z * old
            output[j] = new
            state[j] = new
        }
    }

    /// The steps from last to first: pre-activation gradients into `dInputSide` and `dHiddenSide`,
    /// dh_{t−1} = dStep · W_hh + dh ⊙ z carried in `dState` (cut where the state was reset
    /// before step t). Every buffer is bound once, outside the loop, and the recurrent product is
    /// one sgemm on those pointers.
    private func backThroughTime(_ outputGradient: [S], resets: [UInt8]) {
        let h = hiddenSize, batch = self.batch, steps = self.steps
        outputGradient.withUnsafeBufferPointer { outputGradient in
        gates.withUnsafeBufferPointer { gates in
        previous.withUnsafeBufferPointer { previous in
        hiddenCandidate.withUnsafeBufferPointer { hiddenCandidate in
        weightHH.value.withUnsafeBufferPointer { weight in
        dInputSide.withUnsafeMutableBufferPointer { dInputSide in
        dHiddenSide.withUnsafeMutableBufferPointer { dHiddenSide in
        dStep.withUnsafeMutableBufferPointer { dStepBuffer in
        dPrevious.withUnsafeMutableBufferPointer { dPreviousBuffer in
        dState.withUnsafeMutableBufferPointer { dStateBuffer in
            let dStep = dStepBuffer.baseAddress!, dPrevious = dPreviousBuffer.baseAddress!, dState = dStateBuffer.baseAddress!
            for t in stride(from: steps - 1, through: 0, by: -1) {
                for b in 0..<batch {
                    let row = t * batch + b
                    Self.stepBack(
                        outputGradient: outputGradient.baseAddress! + row * h, dState: dState + b * h,
                        gates: gates.baseAddress! + row * 3 * h, previous: previous.baseAddress! + row * h,
                        hiddenCandidate: hiddenCandidate.baseAddress! + row * h, dInputSide: dInputSide.baseAddress! + row * 3 * h,
                        dStep: dStep + b * 3 * h, dPrevious: dPrevious + b * h, h: h)
                }
                (dHiddenSide.baseAddress! + t * batch * 3 * h).update(from: dStep, count: batch * 3 * h)
                // dPrevious += dStep · W_hh  ([B, 3H] · [3H, H])
                S.gemm(
                    transposeA: false, transposeB: false, m: batch, n: h, k: 3 * h, alpha: 1, a: dStep, lda: 3 * h,
                    b: weight.baseAddress!, ldb: h, beta: 1, c: dPrevious, ldc: h)
                for b in 0..<batch {
                    if resets[t * batch + b] != 0 {
                        (dState + b * h).update(repeating: 0, count: h)
                    } else {
                        (dState + b * h).update(from: dPrevious + b * h, count: h)
                    }
                }
            }
        } } } } } } } } } }
    }

    /// One example's step back: pre-activation gradients of the input side (r, z, n), of the
    /// hidden side (r, z, W_hn h + b_hn) into `dStep`, and dh ⊙ z into `dPrevious`.
    private static func stepBack(
        outputGradient: UnsafePointer<S>, dState: UnsafePointer<S>, gates: UnsafePointer<S>, previous: UnsafePointer<S>,
        hiddenCandidate: UnsafePointer<S>, dInputSide: UnsafeMutablePointer<S>, dStep: UnsafeMutablePointer<S>,
        dPrevious: UnsafeMutablePointer<S>, h: Int
    ) {
        let (gateR, gateZ, gateN) = (gates, gates + h, gates + 2 * h)
        let (inputR, inputZ, inputN) = (dInputSide, dInputSide + h, dInputSide + 2 * h)
        let (stepR, stepZ, stepN) = (dStep, dStep + h, dStep + 2 * h)
        for j in 0..<h {
            let dh = outputGradient[j] + dState[j]
            let r = gateR[j], z = gateZ[j], n = gateN[j]
            let dn = dh * (1 - z) * (1 - n * n)
            let dz = dh * (previous[j] - n) * z * (1 - z)
            let dr = dn * hiddenCandidate[j] * r * (1 - r)
            inputR[j] = dr
            inputZ[j] = dz
            inputN[j] = dn
            stepR[j] = dr
            stepZ[j] = dz
            stepN[j] = dn * r
            dPrevious[j] = dh * z
        }
    }

    /// Back-propagates dLoss/dOutputs [steps, batch, hiddenSize] of the last
    /// forward; adds the parameters' gradients and returns dLoss/dInput.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(_ outputGradient: [S], resets: [UInt8]) -> [S] {
        let h = hiddenSize, rows = steps * batch, batch = self.batch
        precondition(outputGradient.count == rows * h && resets.count == rows, "GRU: gradient does not match the last forward")
        // Pre-activation gradients: of the input side (r, z, n) and of the hidden side (r, z, W_hn h + b_hn).
        dInputSide.reuse(count: rows * 3 * h)
        dHiddenSide.reuse(count: rows * 3 * h)
        dState.reuseZeroed(count: batch * h)  // dLoss/dh_t flowing back from step t+1
        dStep.reuse(count: batch * 3 * h)
        dPrevious.reuse(count: batch * h)
        backThroughTime(outputGradient, resets: resets)
        // Parameter gradients over all steps at once.
        MatMul.multiply(dInputSide, input, into: &weightIH.gradient, m: 3 * h, n: inputSize, k: rows, transposeA: true, accumulate: true)
        MatMul.multiply(dHiddenSide, previous, into: &weightHH.gradient, m: 3 * h, n: h, k: rows, transposeA: true, accumulate: true)
        input = []  // the producer's buffer is its own again
        biasIH.gradient.withUnsafeMutableBufferPointer { dBiasIH in
            biasHH.gradient.withUnsafeMutableBufferPointer { dBiasHH in
                dInputSide.withUnsafeBufferPointer { dInputSide in
                    dHiddenSide.withUnsafeBufferPointer { dHiddenSide in
                        MatMul.addColumnSums(dInputSide, rows: rows, columns: 3 * h, into: dBiasIH)
                        MatMul.addColumnSums(dHiddenSide, rows: rows, columns: 3 * h, into: dBiasHH)
                    }
                }
            }
        }
        inputGradient.reuse(count: rows * inputSize)
        MatMul.multiply(dInputSide, weightIH.value, into: &inputGradient, m: rows, n: inputSize, k: 3 * h)
        return inputGradient
    }
}
