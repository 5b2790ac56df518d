import Foundation

/// A set of real game messages with reference labels per goal (1 = progress), split into a
/// development part (for prompts and thresholds) and a test part (for the figures reported).
/// One JSON object per line: `{"message": …, "count": …, "part": "dev"|"test", "labels": {goal: 0|1}}`.
public struct LabelSet: Sendable {
    public struct Entry: Sendable, Codable, Equatable {
        public var message: String
        public var count: Int
        public var part: String
        public var labels: [String: Int]

        public init(message: String, count: Int, part: String, labels: [String: Int]) {
            self.message = message
            self.count = count
            self.part = part
            self.labels = labels
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    public init(path: String) throws {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw LabelSetError("cannot read \(path): \(error.localizedDescription)")
        }
        var entries: [Entry] = []
        for (number, line) in text.split(separator: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            do {
                entries.append(try JSONDecoder().decode(Entry.self, from: Data(line.utf8)))
            } catch {
                throw LabelSetError("\(path) line \(number + 1) is not a labelled message: \(error)")
            }
        }
        self.entries = entries
    }

    /// The entries of `part` (`dev`, `test` or `all`) that have a label under `goal`.
    public func entries(part: String, goal: String) -> [Entry] {
        entries.filter { (part == "all" || $0.part == part) && $0.labels[goal] != nil }
    }
}

public struct LabelSetError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How a judge's labels compare with the reference: agreement, precision and recall of
/// "progress", Cohen's κ, and — for log-probability labels — how well P(yes) is calibrated.
public struct LabelAgreement: Sendable, Codable {
    /// One judged message.
    public struct Judgement: Sendable, Codable, Equatable {
        public var message: String
        public var reference: Int
        /// The judge's label; nil when it gave none (unparseable reply, server error).
        public var label: Int?
        /// P(progress) as the judge stated it (log-probability mode), if it did.
        public var probability: Double?
        public var seconds: Double

        public init(message: String, reference: Int, label: Int?, probability: Double?, seconds: Double) {
            self.message = message
            self.reference = reference
            self.label = label
            self.probability = probability
            self.seconds = seconds
        }
    }

    /// One bin of the calibration table.
    public struct CalibrationBin: Sendable, Codable, Equatable {
        public var low: Double
        public var high: Double
        public var count: Int
        public var meanProbability: Double
        /// The share of the bin's messages the reference calls progress.
        public var progressRate: Double
    }

    public var judged: Int
    public var unlabelled: Int
    public var truePositives: Int, falsePositives: Int, trueNegatives: Int, falseNegatives: Int
    public var agreement: Double
    public var precision: Double?
    public var recall: Double?
    public var kappa: Double?
    public var secondsPerLabel: Double
    public var calibration: [CalibrationBin]
    /// The threshold on P(progress) that was applied (nil: the judge's own yes/no).
    public var threshold: Double?

    /// Compares `judgements` with their reference labels. With `threshold`, a judgement that
    /// states P(progress) counts as progress when P exceeds it, instead of the judge's own answer.
    public init(_ judgements: [Judgement], threshold: Double? = nil, bins: Int = 5) {
        self.threshold = threshold
        func decided(_ j: Judgement) -> Int? {
            if let threshold, let p = j.probability { return p > threshold ? 1 : 0 }
            return j.label
        }
        let labelled = judgements.compactMap { j in decided(j).map { (j.reference, $0) } }
        judged = labelled.count
        unlabelled = judgements.count - labelled.count
        truePositives = labelled.filter { $0 == (1, 1) }.count
        falsePositives = labelled.filter { $0 == (0, 1) }.count
        trueNegatives = labelled.filter { $0 == (0, 0) }.count
        falseNegatives = labelled.filter { $0 == (1, 0) }.count
        let n = Double(max(judged, 1))
        agreement = Double(truePositives + trueNegatives) / n
        precision = truePositives + falsePositives > 0 ? Double(truePositives) / Double(truePositives + falsePositives) : nil
        recall = truePositives + falseNegatives > 0 ? Double(truePositives) / Double(truePositives + falseNegatives) : nil
        // κ = (p_o − p_e) / (1 − p_e), p_e from each side's marginal rate of "progress".
        let referenceRate = Double(truePositives + falseNegatives) / n, judgeRate = Double(truePositives + falsePositives) / n
        let chance = referenceRate * judgeRate + (1 - referenceRate) * (1 - judgeRate)
        kappa = judged > 0 && chance < 1 ? (agreement - chance) / (1 - chance) : nil
        secondsPerLabel = judgements.isEmpty ? 0 : judgements.map(\.seconds).reduce(0, +) / Double(judgements.count)
        let stated = judgements.compactMap { j in j.probability.map { ($0, j.reference) } }
        calibration = stated.isEmpty ? [] : (0..<bins).compactMap { b in
            let (low, high) = (Double(b) / Double(bins), Double(b + 1) / Double(bins))
            let inside = stated.filter { $0.0 >= low && ($0.0 < high || (b == bins - 1 && $0.0 <= high)) }
            guard !inside.isEmpty else { return nil }
            return CalibrationBin(
                low: low, high: high, count: inside.count, meanProbability: inside.map(\.0).reduce(0, +) / Double(inside.count),
                progressRate: Double(inside.filter { $0.1 == 1 }.count) / Double(inside.count))
        }
    }

    /// The threshold on P(progress), among the stated probabilities, that gives the highest κ
    /// on `judgements` (choose it on the development part, report on the test part).
    public static func bestThreshold(_ judgements: [Judgement]) -> Double? {
        let candidates = Set(judgements.compactMap(\.probability)).sorted()
        guard !candidates.isEmpty else { return nil }
        // Between neighbouring probabilities, and below the lowest.
        let thresholds = [candidates[0] - 1e-9] + zip(candidates, candidates.dropFirst()).map { ($0 + $1) / 2 }
        return thresholds.max { LabelAgreement(judgements, threshold: $0).kappa ?? -1 < LabelAgreement(judgements, threshold: $1).kappa ?? -1 }
    }
}
