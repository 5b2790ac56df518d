import ArgumentParser
import Logging
import OniAnnotation
import OniLearning
import OniRewards
import OniRuntime

// The closed sets of values options take: help lists them, completion offers them, and a wrong
// one is refused naming them.

/// The intrinsic reward, or `auto`: retrieval when there is an annotator, none without.
public enum RewardChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    case auto, none, retrieval, classification, ranking, cosine

    /// The reward given whether an annotator answers.
    public func resolved(annotating: Bool) -> IntrinsicRewardType {
        IntrinsicRewardType(rawValue: rawValue) ?? (annotating ? .retrieval : .none)
    }
}

/// The recurrent core, or `auto`: a GRU for an egocentric view, none for a whole map.
public enum CoreChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    case auto, gru, none

    public var core: PolicyArchitecture.Core? { PolicyArchitecture.Core(rawValue: rawValue) }
}

/// How the LLM answers, or `auto`: logprob with the local llama-server, tagged with any other.
public enum LabelModeChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    case auto, tagged, logprob

    public var mode: LabelMode? { LabelMode(rawValue: rawValue) }
}

/// How pairs are compared for ranking, or `auto`: scores with the local llama-server, prompt with any other.
public enum PairJudgeChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    case auto, prompt, scores

    public var judge: PairJudge? { PairJudge(rawValue: rawValue) }
}

/// Log levels, quietest last.
public enum LogLevel: String, CaseIterable, ExpressibleByArgument, Sendable {
    case trace, debug, info, notice, warning, error, critical

    public var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
}

/// `--store-max-mb`: `auto` (the smaller of 20 GiB and half the free space) or a number of MiB (0: no cap).
public struct StoreCapSetting: RawRepresentable, ExpressibleByArgument, Sendable, Equatable {
    public let rawValue: String
    /// -1 for `auto`, else MiB (0: no cap), as `LearnerConfig.storeMaxMegabytes` takes it.
    public var megabytes: Int { rawValue == "auto" ? -1 : Int(rawValue) ?? -1 }

    public init?(rawValue: String) {
        guard rawValue == "auto" || (Int(rawValue) ?? -1) >= 0 else { return nil }
        self.rawValue = rawValue
    }

    public init?(argument: String) { self.init(rawValue: argument) }
    public static let automatic = StoreCapSetting(rawValue: "auto")!
}

/// `--llm-threads`: `auto` (the cores the workers and the learner leave idle, at least 1) or a count.
public struct LLMThreadsSetting: RawRepresentable, ExpressibleByArgument, Sendable, Equatable {
    public let rawValue: String

    public init?(rawValue: String) {
        guard rawValue == "auto" || (Int(rawValue) ?? 0) >= 1 else { return nil }
        self.rawValue = rawValue
    }

    public init?(argument: String) { self.init(rawValue: argument) }
    public static let automatic = LLMThreadsSetting(rawValue: "auto")!

    /// The threads for a machine of `cores` cores on which the run's other roles keep `busy` threads busy.
    public func threads(cores: Int, busy: Int) -> Int {
        Int(rawValue) ?? max(1, cores - busy)
    }
}

extension MessageCountScope: ExpressibleByArgument {}
extension RankingPayment: ExpressibleByArgument {}
extension PairSampling: ExpressibleByArgument {}
extension PromptStyle: ExpressibleByArgument {}
extension RewardTextModel: ExpressibleByArgument {}
extension MessageAccounting.Timing: ExpressibleByArgument {}
extension MessageAccounting.EmptyMessages: ExpressibleByArgument {}
extension LLMSource: ExpressibleByArgument {}
extension LabelCheck: ExpressibleByArgument {}
extension LabelUnit: ExpressibleByArgument {}
