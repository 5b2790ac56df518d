import ArgumentParser
import Foundation
import OniAnnotation
import OniRuntime
import OniStorage

/// The annotator's settings: everything but where it binds and its id.
public struct AnnotatorOptions: ParsableArguments, Sendable {
    @Option(help: "OpenAI-compatible LLM server base URL, e.g. http://127.0.0.1:8080/v1 (default: ONI_LLM_BASE_URL).") public var llmUrl: String?
    @Option(help: "Model name sent to the server (default: ONI_LLM_MODEL, or the local server's GGUF, or 'default').") public var llmModel: String?
    @Option(help: "How the LLM answers: tagged (<label>yes</label>), logprob (P(yes) against P(no) of its first token; needs logprobs) or auto (logprob with the local llama-server, tagged otherwise).")
    public var labelMode = LabelModeChoice.auto
    @Option(help: "Whose prompts: default (Oni's: short, few-shot, one-word answers), oni (ONI's chain-of-thought label prompt and Motif's pair prompt; tagged answers) or oni-reworded (ONI's reworded pair prompt).")
    public var prompt = PromptStyle.default
    @Option(help: "How ranking compares two messages: prompt (both in one prompt, asked in both orders), scores (each labelled alone, preference σ(logit p₁ − logit p₂)) or auto (scores with the local llama-server, prompt otherwise).")
    public var pairJudge = PairJudgeChoice.auto
    @Option(help: "With logprob labels: the P(yes) share above which a message is progress (default: the one chosen for the goal with Oni's prompt and the local judge, 0.85 for the default goal; choose another model's with `oni label-eval --choose-threshold`; part of the prompt's hash, so cached labels keep theirs).")
    public var logprobThreshold: Double?
    @Option(help: "Ask each message more than one way and keep only consistent labels: none, agree (tagged and logprob must agree) or vote (those and the examples reversed; the majority).")
    public var labelCheck = LabelCheck.none
    @Option(help: "What each question asks about: sentence (each of the messages the game joined into one line, cached on its own; the line is progress when one of them is) or message (the whole line). Oni's prompts only: ONI's ask the whole message.")
    public var labelUnit = LabelUnit.sentence
    @Option(help: "LLM requests in flight at once (0 = auto: 1 with the local llama-server, 4 with any other).") public var llmConcurrency = 0
    @Option(help: "Seconds before an LLM request times out.") public var llmTimeout = 60.0
    @Option(help: "Retries of a failed LLM request (with backoff and jitter).") public var llmRetries = 3
    @Option(help: "Most tokens the LLM may answer with.") public var llmMaxTokens = 16
    @Option(help: "Few-shot examples for the LLM (a versioned JSON file; default: the built-in ones).") public var llmExamples: String?
    @Option(help: "Annotation requests labelled at once (their LLM calls share --llm-concurrency).") public var maxConcurrentRequests = 4
    @Option(help: "Annotation requests waiting beyond this are dropped, oldest first.") public var maxQueuedRequests = 256
    @Option(help: "While a request is labelled, send back what is finished every this many seconds (0: only whole replies).")
    public var partialReplySeconds = 10.0
    @Option(help: "The label cache shared across runs (SQLite), keyed by model, prompt, goal and message (default: \(SQLiteLabelCache.defaultPath)).")
    public var annotationCache: String?
    @Flag(inversion: .prefixedNo, exclusivity: .chooseLast, help: "Keep labels in the cache (--no-cache asks the LLM about every message).")
    public var cache = true

    public init() {}

    public func validate() throws {
        guard llmTimeout > 0 else { throw ValidationError("--llm-timeout must be positive") }
        if let logprobThreshold, !(logprobThreshold > 0 && logprobThreshold < 1) { throw ValidationError("--logprob-threshold must be between 0 and 1") }
        guard llmRetries >= 0, llmConcurrency >= 0 else { throw ValidationError("--llm-retries and --llm-concurrency must not be negative") }
        guard maxConcurrentRequests > 0, maxQueuedRequests > 0, llmMaxTokens > 0 else {
            throw ValidationError("--max-concurrent-requests, --max-queued-requests and --llm-max-tokens must be positive")
        }
        guard partialReplySeconds >= 0 else { throw ValidationError("--partial-reply-seconds must not be negative (0: only whole replies)") }
        if prompt != .default {
            guard labelMode != .logprob else { throw ValidationError("--prompt \(prompt.rawValue) answers after its reasoning: use --label-mode tagged (or auto)") }
            guard labelCheck == .none else { throw ValidationError("--label-check asks Oni's prompts several ways; it does not apply to --prompt \(prompt.rawValue)") }
            guard pairJudge != .scores else { throw ValidationError("--pair-judge scores labels each message with Oni's log-probability prompt; --prompt \(prompt.rawValue) compares pairs with its own prompt") }
        }
        if let llmUrl, URL(string: llmUrl)?.scheme?.hasPrefix("http") != true {
            throw ValidationError("--llm-url must be an http(s) URL, got '\(llmUrl)'")
        }
        if let llmExamples {
            do { _ = try FewShotExamples.load(path: llmExamples) } catch { throw ValidationError("\(error)") }
        }
    }

    /// The LLM server from the options, falling back to ONI_LLM_BASE_URL and ONI_LLM_MODEL.
    public func llmServer(environment: [String: String] = ProcessInfo.processInfo.environment) -> LLMServerConfig? {
        var environment = environment
        if let llmUrl { environment["ONI_LLM_BASE_URL"] = llmUrl }
        if let llmModel { environment["ONI_LLM_MODEL"] = llmModel }
        guard var llm = LLMServerConfig.fromEnvironment(environment) else { return nil }
        llm.timeoutSeconds = llmTimeout
        llm.maxRetries = llmRetries
        llm.maxConcurrentRequests = llmConcurrency == 0 ? 4 : llmConcurrency
        llm.maxTokens = llmMaxTokens
        return llm
    }

    /// These settings applied to an annotator configuration (the `auto` choices as for a server not known to be local).
    public func apply(to config: inout AnnotatorConfig) throws {
        config.maxQueuedRequests = maxQueuedRequests
        config.maxConcurrentRequests = maxConcurrentRequests
        config.partialReplySeconds = partialReplySeconds
        config.cachePath = cache ? (annotationCache ?? SQLiteLabelCache.defaultPath) : nil
        config.labelMode = labelMode.mode ?? .tagged
        config.promptStyle = prompt
        config.pairJudge = pairJudge.judge ?? .prompt
        config.logprobThreshold = logprobThreshold
        config.labelCheck = labelCheck
        config.labelUnit = labelUnit
        if let llmExamples { config.fewShot = try FewShotExamples.load(path: llmExamples) }
    }
}
