import OniCore
import OniLearning
import OniNeural
import Testing

/// The message encoder computes over the batch's longest message only; these check that it
/// gives what the convolutions over the whole length give, values and gradients.
@Suite struct MessageEncoderTests {
    /// `rows` messages of `length` bytes, row r with `lengths[r % count]` bytes of text (zeros
    /// among them, as a message can hold) and zeros after.
    static func messages(rows: Int, length: Int, lengths: [Int], rng: inout SeededGenerator) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: rows * length)
        for r in 0..<rows {
            for p in 0..<lengths[r % lengths.count] { bytes[r * length + p] = UInt8([0, 32, 65, 89, 111, 117, 255][rng.below(7)]) }
        }
        return bytes
    }

    /// Features and every parameter's gradient, for a loss Σ features · weights.
    static func run<S: Scalar>(_ encoder: MessageEncoder<S>, _ bytes: [UInt8], rows: Int, weights: [S]) -> (features: [S], gradients: [[S]]) {
        for p in encoder.parameters { p.zeroGradient() }
        let features = bytes.withUnsafeBufferPointer { encoder.forward($0, rows: rows) }
        encoder.backward(weights)
        return (features, encoder.parameters.map(\.gradient))
    }

    static let filters = 8

    /// Runs both encoders on `bytes` and checks that their features and gradients agree.
    static func compare<S: Scalar>(
        _ trimmed: MessageEncoder<S>, _ whole: MessageEncoder<S>, _ bytes: [UInt8], rows: Int, weights: [S], tolerance: Double,
        _ label: String
    ) {
        let a = run(trimmed, bytes, rows: rows, weights: weights), b = run(whole, bytes, rows: rows, weights: weights)
        #expect(a.features.count == rows * filters)
        for (x, y) in zip(a.features, b.features) { #expect(abs(Double(x - y)) <= tolerance, "\(label): feature \(x) vs \(y)") }
        for (p, (g, h)) in zip(trimmed.parameters, zip(a.gradients, b.gradients)) {
            let scale = h.reduce(0) { max($0, abs(Double($1))) }
            #expect(scale > 0, "\(p.name): no gradient")
            for (x, y) in zip(g, h) { #expect(abs(Double(x - y)) <= tolerance * max(1, scale), "\(label) \(p.name): \(x) vs \(y)") }
        }
    }

    /// Two encoders with the same weights, one trimming; biases random (a layer starts with
    /// zero biases, which would leave the edges' positions rarely the largest).
    static func encoders<S: Scalar>(_: S.Type, length: Int, seed: UInt64 = 7) -> (trimmed: MessageEncoder<S>, whole: MessageEncoder<S>) {
        var rng1 = SeededGenerator(seed: seed), rng2 = SeededGenerator(seed: seed)
        let pair = (
            MessageEncoder<S>(name: "message", length: length, embedding: 3, filters: filters, rng: &rng1),
            MessageEncoder<S>(name: "message", length: length, embedding: 3, filters: filters, trims: false, rng: &rng2)
        )
        for (p, q) in zip(pair.0.parameters, pair.1.parameters) where p.name.hasSuffix("bias") {
            p.value = p.value.map { _ in S(Initialization.gaussian(&rng1)) }
            q.value = p.value
        }
        return pair
    }

    /// Short, medium and full-length batches (narrow widths 16 and 48 of 64, and the whole),
    /// an empty batch, in Float64 (to rounding) and Float32 (the direct kernels where they run).
    @Test(arguments: [[0], [3, 0, 11, 1], [13, 2], [14], [40, 2, 17], [64, 5], [61]])
    func trimmedMatchesTheWholeLength(lengths: [Int]) {
        func check<S: Scalar>(_ type: S.Type, tolerance: Double, seed: UInt64) {
            let length = 64, rows = 9
            let (trimmed, whole) = Self.encoders(S.self, length: length, seed: seed)
            var rng = SeededGenerator(seed: 11 + seed)
            let bytes = Self.messages(rows: rows, length: length, lengths: lengths, rng: &rng)
            let weights = (0..<(rows * Self.filters)).map { _ in S(Initialization.gaussian(&rng)) }
            Self.compare(trimmed, whole, bytes, rows: rows, weights: weights, tolerance: tolerance, "\(lengths)")
        }
        for seed: UInt64 in 1...6 {
            check(Double.self, tolerance: 1e-12, seed: seed)
            check(Float.self, tolerance: 2e-5, seed: seed)
        }
    }

    /// A batch that repeats a few messages, as a game's do (the empty one among them, two of
    /// one length, one the prefix of another), computes each once and gives what every row
    /// over the whole length gives; twice in a row, with fewer distinct messages the second time.
    @Test func repeatedMessagesAreComputedOnce() {
        func check<S: Scalar>(_ type: S.Type, tolerance: Double) {
            let length = 64, rows = 40
            let (trimmed, whole) = Self.encoders(S.self, length: length)
            var rng = SeededGenerator(seed: 5)
            var pool = Self.messages(rows: 5, length: length, lengths: [0, 9, 30, 9, 0], rng: &rng)
            for p in 0..<9 { pool[4 * length + p] = pool[length + p] }
            pool[4 * length + 9] = 77
            for kinds in [5, 3] {
                let picks = (0..<rows).map { $0 < kinds ? $0 : rng.below(kinds) }
                let bytes = picks.flatMap { pool[($0 * length)..<(($0 + 1) * length)] }
                let weights = (0..<(rows * Self.filters)).map { _ in S(Initialization.gaussian(&rng)) }
                Self.compare(trimmed, whole, bytes, rows: rows, weights: weights, tolerance: tolerance, "\(kinds) messages")
                #expect(trimmed.computedRows == kinds)
                #expect(whole.computedRows == rows)
            }
        }
        check(Double.self, tolerance: 1e-12)
        check(Float.self, tolerance: 2e-5)
    }

    @Test func widthCoversTheLongestMessageAndTheKernelsReach() {
        var rng = SeededGenerator(seed: 1)
        let encoder = MessageEncoder<Float>(name: "m", length: 256, embedding: 2, filters: 2, rng: &rng)
        #expect(encoder.width(longest: 0) == 16)
        #expect(encoder.width(longest: 12) == 16)
        #expect(encoder.width(longest: 13) == 32)
        #expect(encoder.width(longest: 100) == 112)
        #expect(encoder.width(longest: 240) == 256)
        #expect(encoder.width(longest: 256) == 256)
    }

    /// The trimmed path's gradients against central differences (Float64), with winners both in
    /// the narrow pass and in the all-zero message's.
    @Test func trimmedGradientsMatchFiniteDifferences() {
        let length = 48, rows = 4
        let (encoder, _) = Self.encoders(Double.self, length: length)
        var rng = SeededGenerator(seed: 5)
        let bytes = Self.messages(rows: rows, length: length, lengths: [6, 1, 0, 9], rng: &rng)
        let weights = (0..<(rows * Self.filters)).map { _ in Initialization.gaussian(&rng) }
        func loss() -> Double {
            let features = bytes.withUnsafeBufferPointer { encoder.forward($0, rows: rows) }
            return zip(features, weights).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let (_, gradients) = Self.run(encoder, bytes, rows: rows, weights: weights)
        let checked = checkAgainstFiniteDifferences(encoder.parameters, gradients: gradients, samples: 40, loss: loss)
        #expect(checked > 60)
    }
}
