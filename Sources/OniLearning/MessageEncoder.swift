import OniCore
import OniNeural

/// A message's features: its bytes embedded, two 1-D convolutions with ELU ("same" padding,
/// kernel 3), the largest value of each filter over all positions.
///
/// A batch repeats a few dozen messages (most steps show none), so by default each distinct
/// message is computed once: its features go to every row that holds it, and those rows'
/// gradients are summed into it. Messages are short and zero-padded (NetHack's are 256 bytes,
/// most under 80), so the convolutions also run only over the first `W` positions, W = the
/// batch's longest message (up to its last nonzero byte) + 4, rounded up to 16. This gives the
/// same result as running over the whole length:
/// - an output at position p < W − 2 sees only the first W bytes (two layers reach 2 each
///   way), so the narrow pass computes it exactly;
/// - an output at p ≥ L + 2, where every byte it sees is zero or beyond the end, is the same
///   for every row: it is what an all-zero message gives there. One such message stands for
///   every row's positions from W − 2 on. Its outputs take only three values there: at the
///   last two positions (which see the end) and at every position before them (which see
///   five zero bytes), so it runs over 5 bytes, not the whole length: position 2 stands for
///   W − 2 … length − 3, positions 3 and 4 for the last two;
/// - the max-pool takes the larger of the two parts, the narrow one on ties (the earlier
///   position, as the plain max does), and sends the gradient where the maximum came from:
///   into the narrow pass, or summed over rows into the all-zero message's. Both passes'
///   layers share the parameters, so their gradients add up.
public final class MessageEncoder<S: Scalar> {
    /// Bytes per message.
    public let length: Int
    public let filters: Int
    /// Whether each distinct message is computed once and the convolutions run only as far as
    /// the batch's messages reach (see above); without, every row over the whole length.
    public let trims: Bool
    /// The layers over the whole length: they own the parameters.
    private let whole: Stack
    /// The all-zero message's layers (`blankLength` bytes, one row).
    private let blank: Stack
    /// Layers over shorter widths (multiples of `granule`), made when first needed.
    private var narrow: [Int: Stack] = [:]
    /// The stack of the last forward.
    private var current: Stack
    private var width: Int { current.width }
    /// Per row and filter: where its maximum is (a position of the narrow pass, or −1 − p for
    /// position p of the short all-zero message); the features; the gradient into the all-zero message.
    /// All three per computed row (each distinct message when trimming, else each row).
    private var winners: [Int32] = []
    private var features: [S] = []
    private var dBlank: [S] = []
    private let blankMessage: [UInt8]
    /// The batch's distinct messages (when trimming); their features per row and gradients.
    private var distinct: DistinctRows
    private var rowFeatures: [S] = []
    private var distinctGradient: [S] = []
    /// Rows of the last batch, and rows computed for it (its distinct messages when trimming).
    private var rows = 0
    public private(set) var computedRows = 0
    /// Positions the last forward's convolutions ran over, all rows together (the all-zero
    /// message's among them).
    public private(set) var computedPositions = 0

    /// Narrow widths are multiples of this (the direct kernel's vectors hold 16 positions).
    public static var granule: Int { 16 }
    /// How far an output sees on each side: 1 per kernel-3 layer.
    static var reach: Int { 2 }
    /// The all-zero message's length: `reach` positions that see its start, one that sees
    /// only zero bytes, `reach` that see its end.
    static var blankLength: Int { 2 * reach + 1 }

    /// Layers of one width, with that width's input and output-gradient buffers (kept, so a
    /// batch of another width does not reallocate them).
    private final class Stack {
        let embedding: Embedding<S>
        let conv0: Conv2d<S>
        let conv1: Conv2d<S>
        var indices: [Int32] = []
        var gradient: [S] = []
        var width: Int { embedding.count }

        init(embedding: Embedding<S>, conv0: Conv2d<S>, conv1: Conv2d<S>) {
            (self.embedding, self.conv0, self.conv1) = (embedding, conv0, conv1)
        }

        func resized(_ width: Int) -> Stack {
            Stack(embedding: embedding.resized(count: width), conv0: conv0.resized(width: width), conv1: conv1.resized(width: width))
        }

        /// Features [rows, filters, width] of the first `width` bytes of each row of `bytes` [rows, length].
        func forward(_ bytes: UnsafeBufferPointer<UInt8>, rows: Int, length: Int) -> [S] {
            let width = self.width
            indices.reuse(count: rows * width)
            indices.withUnsafeMutableBufferPointer { indices in
                for r in 0..<rows {
                    for p in 0..<width { indices[r * width + p] = Int32(bytes[r * length + p]) }
                }
            }
            return conv1.forward(conv0.forward(embedding.forward(indices, batch: rows), batch: rows), batch: rows)
        }

        func backward(_ gradient: [S]) {
            embedding.backward(conv0.backward(conv1.backward(gradient)))
        }
    }

    public init(name: String, length: Int, embedding: Int, filters: Int, trims: Bool = true, rng: inout SeededGenerator) {
        precondition(length > 0, "MessageEncoder: messages of no length")
        self.length = length
        self.filters = filters
        self.trims = trims
        whole = Stack(
            embedding: Embedding(name: "\(name).embed", vocabulary: 256, dimension: embedding, count: length, rng: &rng),
            conv0: Conv2d(
                name: "\(name).conv0", channels: embedding, length: length, filters: filters, kernel: 3, padding: 1,
                activation: .elu, rng: &rng),
            conv1: Conv2d(
                name: "\(name).conv1", channels: filters, length: length, filters: filters, kernel: 3, padding: 1,
                activation: .elu, rng: &rng))
        blank = whole.resized(min(length, Self.blankLength))
        blankMessage = [UInt8](repeating: 0, count: Self.blankLength)
        distinct = DistinctRows(length: length)
        current = whole
    }

    public var parameters: [Parameter<S>] { whole.embedding.parameters + whole.conv0.parameters + whole.conv1.parameters }

    /// The width the convolutions run over for messages whose last nonzero byte is at `longest` − 1.
    public func width(longest: Int) -> Int {
        guard trims else { return length }
        let wide = (longest + 2 * Self.reach + Self.granule - 1) / Self.granule * Self.granule
        return wide < length ? wide : length
    }

    /// Features [rows, filters] of `bytes` [rows, length].
    public func forward(_ bytes: UnsafeBufferPointer<UInt8>, rows: Int) -> [S] {
        precondition(bytes.count >= rows * length, "MessageEncoder: \(bytes.count) bytes for \(rows) messages of \(length)")
        self.rows = rows
        if trims { distinct.update(bytes, rows: rows) }
        computedRows = trims ? distinct.count : rows
        let width = width(longest: distinct.longest)  // the whole length when not trimming
        if width == length {
            current = whole
        } else if let stack = narrow[width] {
            current = stack
        } else {
            current = whole.resized(width)
            narrow[width] = current
        }
        let narrowFeatures =
            trims
            ? distinct.bytes.withUnsafeBufferPointer { current.forward($0, rows: computedRows, length: length) }
            : current.forward(bytes, rows: rows, length: length)
        let blankFeatures =
            width < length ? blankMessage.withUnsafeBufferPointer { blank.forward($0, rows: 1, length: Self.blankLength) } : []
        computedPositions = computedRows * width + (width < length ? Self.blankLength : 0)
        pool(narrowFeatures, blankFeatures)
        guard trims else { return features }
        rowFeatures.reuse(count: rows * filters)
        for r in 0..<rows {
            let d = Int(distinct.index[r])
            for f in 0..<filters { rowFeatures[r * filters + f] = features[d * filters + f] }
        }
        return rowFeatures
    }

    /// Max over positions: the narrow pass's first `cut` (all of them at full width), then the
    /// all-zero message's from `cut` on: its middle position (standing for `cut` … length − 3,
    /// which always holds some: W ≤ length − 1), then its last two.
    private func pool(_ narrowFeatures: [S], _ blankFeatures: [S]) {
        let (rows, filters, width, length) = (computedRows, self.filters, self.width, self.length)
        let cut = width < length ? width - Self.reach : width
        let blankLength = Self.blankLength
        features.reuse(count: rows * filters)
        winners.reuse(count: rows * filters)
        narrowFeatures.withUnsafeBufferPointer { x in
            blankFeatures.withUnsafeBufferPointer { z in
                for f in 0..<filters {
                    // The all-zero message's maximum from `cut` on (none at full width).
                    var tail = -1
                    var tailValue: S = 0
                    if width < length {
                        (tail, tailValue) = (Self.reach, z[f * blankLength + Self.reach])
                        for p in (Self.reach + 1)..<blankLength where z[f * blankLength + p] > tailValue {
                            (tail, tailValue) = (p, z[f * blankLength + p])
                        }
                    }
                    for r in 0..<rows {
                        let base = (r * filters + f) * width
                        var best = 0
                        for p in 1..<cut where x[base + p] > x[base + best] { best = p }
                        let out = r * filters + f
                        if tail >= 0 && tailValue > x[base + best] {
                            (winners[out], features[out]) = (Int32(-1 - tail), tailValue)
                        } else {
                            (winners[out], features[out]) = (Int32(best), x[base + best])
                        }
                    }
                }
            }
        }
    }

    /// Adds dLoss/dParameters for dLoss/dFeatures [rows, filters] of the last forward.
    public func backward(_ gradient: [S]) {
        precondition(gradient.count == rows * filters, "MessageEncoder: gradient does not match the last forward")
        guard trims else { return backward(computed: gradient) }
        distinctGradient.reuseZeroed(count: computedRows * filters)
        for r in 0..<rows {
            let d = Int(distinct.index[r])
            for f in 0..<filters { distinctGradient[d * filters + f] += gradient[r * filters + f] }
        }
        backward(computed: distinctGradient)
    }

    /// `backward` for dLoss/dFeatures [computedRows, filters] of the computed rows.
    private func backward(computed gradient: [S]) {
        let (rows, filters, width, length) = (computedRows, self.filters, self.width, self.length)
        let stack = current
        stack.gradient.reuseZeroed(count: rows * filters * width)
        if width < length { dBlank.reuseZeroed(count: filters * Self.blankLength) }
        for r in 0..<rows {
            for f in 0..<filters {
                let winner = Int(winners[r * filters + f]), g = gradient[r * filters + f]
                if winner >= 0 {
                    stack.gradient[(r * filters + f) * width + winner] += g
                } else {
                    dBlank[f * Self.blankLength - 1 - winner] += g
                }
            }
        }
        stack.backward(stack.gradient)
        if width < length { blank.backward(dBlank) }
    }
}
