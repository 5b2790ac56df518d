import Foundation
import OniLearning
import OniStorage

/// What a set of evaluation episodes amounts to: means with standard errors, success rate, the
/// environment's own figures, and the messages seen most.
public struct EvaluationSummary: Codable, Sendable {
    public var episodes: Int
    public var meanReturn: Double
    public var standardErrorReturn: Double
    public var successRate: Double
    public var meanLength: Double
    public var truncated: Int
    /// Per environment statistic: mean and standard error.
    public var statistics: [String: Mean]
    /// The ten most frequent messages over all episodes, with their counts.
    public var topMessages: [MessageCount]

    public struct Mean: Codable, Sendable, Equatable {
        public var mean: Double
        public var standardError: Double

        public init(mean: Double, standardError: Double) {
            self.mean = mean
            self.standardError = standardError
        }
    }

    public struct MessageCount: Codable, Sendable, Equatable {
        public var message: String
        public var count: Int

        public init(message: String, count: Int) {
            self.message = message
            self.count = count
        }
    }

    public init(_ results: [EpisodeResult]) {
        episodes = results.count
        let returns = Self.mean(results.map(\.episodeReturn))
        meanReturn = returns.mean
        standardErrorReturn = returns.standardError
        successRate = results.isEmpty ? 0 : Double(results.filter(\.success).count) / Double(results.count)
        meanLength = Self.mean(results.map { Double($0.length) }).mean
        truncated = results.filter(\.truncated).count
        var statistics: [String: Mean] = [:]
        for key in Set(results.flatMap(\.statistics.keys)) {
            statistics[key] = Self.mean(results.compactMap { $0.statistics[key] })
        }
        self.statistics = statistics
        var counts: [String: Int] = [:]
        for result in results { counts.merge(result.messages, uniquingKeysWith: +) }
        topMessages = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(10).map { MessageCount(message: $0.key, count: $0.value) }
    }

    /// Mean and standard error of the mean (0 for fewer than two values).
    static func mean(_ values: [Double]) -> Mean {
        guard !values.isEmpty else { return Mean(mean: 0, standardError: 0) }
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        guard values.count > 1 else { return Mean(mean: mean, standardError: 0) }
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        return Mean(mean: mean, standardError: (variance / n).squareRoot())
    }

    /// The table `oni evaluate` prints.
    public func table() -> String {
        var lines = [
            String(format: "  return      %9.3f ± %.3f", meanReturn, standardErrorReturn),
            String(format: "  success     %9.3f", successRate),
            String(format: "  length      %9.1f", meanLength),
        ]
        let names = ["score": "score", "depth": "depth", "experience_level": "xp level", "gold": "gold"]
        for key in statistics.keys.sorted(by: { (names[$0] == nil ? 1 : 0, $0) < (names[$1] == nil ? 1 : 0, $1) }) {
            let value = statistics[key]!
            lines.append(String(format: "  %-11@ %9.2f ± %.2f", (names[key] ?? key) as NSString, value.mean, value.standardError))
        }
        if truncated > 0 { lines.append("  truncated   \(truncated) of \(episodes) episodes (cut at the step limit)") }
        if !topMessages.isEmpty {
            lines.append("  most frequent messages:")
            for entry in topMessages { lines.append(String(format: "    %7d  ", entry.count) + entry.message) }
        }
        return lines.joined(separator: "\n")
    }

    /// The row stored in the run's `evaluations` table.
    public func record(checkpoint: String, metadata: CheckpointMetadata, options: Evaluator.Options, report: String) -> EvaluationRecord {
        EvaluationRecord(
            checkpoint: checkpoint, policyVersion: metadata.version, trainedEnvSteps: metadata.envSteps, env: options.env,
            episodes: episodes, greedy: options.greedy, seed: options.seed, meanReturn: meanReturn, standardErrorReturn: standardErrorReturn,
            successRate: successRate, meanLength: meanLength, statistics: statistics.mapValues(\.mean), report: report)
    }
}

/// One evaluation as `oni evaluate` writes it to JSON.
public struct EvaluationReport: Codable, Sendable {
    public var checkpoint: String
    public var policyVersion: Int64
    public var trainedEnvSteps: UInt64
    public var env: String
    public var greedy: Bool
    public var seed: UInt64
    public var summary: EvaluationSummary
    public var episodes: [EpisodeResult]

    public init(checkpoint: String, metadata: CheckpointMetadata, options: Evaluator.Options, results: [EpisodeResult]) {
        self.checkpoint = checkpoint
        policyVersion = metadata.version
        trainedEnvSteps = metadata.envSteps
        env = options.env
        greedy = options.greedy
        seed = options.seed
        summary = EvaluationSummary(results)
        episodes = results
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}
