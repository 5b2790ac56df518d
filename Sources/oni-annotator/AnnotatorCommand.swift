import ArgumentParser
import Foundation
import Logging
import OniAnnotation
import OniRuntime
import OniStorage
import OniTransport

@main
struct AnnotatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oni-annotator",
        abstract: "Label game messages with an LLM for the learner.",
        discussion: """
            Serves AnnotationRequests on a ROUTER socket and asks an OpenAI-compatible server \
            (vLLM, llama.cpp's llama-server, Ollama, FastChat) whether each message shows progress \
            toward the goal. The API key is read from ONI_LLM_API_KEY (or OPENAI_API_KEY), never \
            from the command line. Stops on SIGINT/SIGTERM.
            """)

    @Option(help: "Request socket (learners connect here).") var bind = "tcp://*:5560"
    @Option(help: "LLM server base URL, e.g. http://127.0.0.1:8080/v1 (default: ONI_LLM_BASE_URL).") var llmUrl: String?
    @Option(help: "Model name sent to the server (default: ONI_LLM_MODEL or 'default').") var llmModel: String?
    @Option(help: "Seconds before an LLM request times out.") var llmTimeout = 60.0
    @Option(help: "Retries of a failed LLM request (with backoff and jitter).") var llmRetries = 3
    @Option(help: "LLM requests in flight at once (more keeps a big server busy; llama.cpp wants its --parallel).") var llmConcurrency = 4
    @Option(help: "Annotation requests labelled at once (their LLM calls share --llm-concurrency).") var maxConcurrentRequests = 4
    @Option(help: "Most tokens the LLM may answer with.") var llmMaxTokens = 16
    @Option(help: "How the LLM answers: tagged (<label>yes</label>) or logprob (compares P(yes) and P(no) of its first token; needs a server with logprobs).")
    var labelMode = LabelMode.tagged.rawValue
    @Option(help: "How pairs are compared (ranking): prompt (both messages in one prompt, asked in both orders) or scores (each message labelled alone, preference σ(logit p₁ − logit p₂); for judges too small to compare).")
    var pairJudge = PairJudge.prompt.rawValue
    @Option(help: "Few-shot examples (a versioned JSON file; default: the built-in oni-examples-v1).") var examples: String?
    @Option(help: "Requests waiting beyond this are dropped, oldest first.") var maxQueuedRequests = 256
    @Option(help: "Id reported in replies.") var id = "annotator-0"
    @Option(help: "Label cache shared across runs (SQLite), keyed by model, prompt, goal and message.") var cache = SQLiteLabelCache.defaultPath
    @Flag(help: "Ask the LLM about every message, keeping no cache.") var noCache = false
    @Option(help: "Largest frame accepted, in bytes.") var maxFrameBytes = 64 << 20
    @Option(help: ArgumentHelp(CurveSettings.help, valueName: "dir")) var curve: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"

    func validate() throws {
        guard llmTimeout > 0 else { throw ValidationError("--llm-timeout must be positive") }
        guard llmRetries >= 0 else { throw ValidationError("--llm-retries must not be negative") }
        guard llmConcurrency > 0, maxConcurrentRequests > 0, maxQueuedRequests > 0, llmMaxTokens > 0 else {
            throw ValidationError("--llm-concurrency, --max-concurrent-requests, --max-queued-requests and --llm-max-tokens must be positive")
        }
        try FrameLimit.validate(maxFrameBytes)
        guard LabelMode(rawValue: labelMode) != nil else {
            throw ValidationError("--label-mode must be one of \(LabelMode.allCases.map(\.rawValue)), got '\(labelMode)'")
        }
        guard PairJudge(rawValue: pairJudge) != nil else {
            throw ValidationError("--pair-judge must be one of \(PairJudge.allCases.map(\.rawValue)), got '\(pairJudge)'")
        }
        guard llmServer() != nil else {
            throw ValidationError("no LLM server: give --llm-url http://HOST:PORT/v1 or set ONI_LLM_BASE_URL")
        }
    }

    /// The LLM server from the flags, falling back to the environment.
    func llmServer() -> LLMServerConfig? {
        var environment = ProcessInfo.processInfo.environment
        if let llmUrl { environment["ONI_LLM_BASE_URL"] = llmUrl }
        if let llmModel { environment["ONI_LLM_MODEL"] = llmModel }
        return LLMServerConfig.fromEnvironment(environment)
    }

    func run() throws {
        guard var llm = llmServer() else { throw ValidationError("no LLM server") }
        llm.timeoutSeconds = llmTimeout
        llm.maxRetries = llmRetries
        llm.maxConcurrentRequests = llmConcurrency
        llm.maxTokens = llmMaxTokens
        var config = AnnotatorConfig(llm: llm)
        config.bind = bind
        config.id = id
        config.maxQueuedRequests = maxQueuedRequests
        config.maxConcurrentRequests = maxConcurrentRequests
        config.maxFrameBytes = maxFrameBytes
        config.cachePath = noCache ? nil : cache
        config.labelMode = LabelMode(rawValue: labelMode)!
        config.pairJudge = PairJudge(rawValue: pairJudge)!
        if let examples {
            do {
                config.fewShot = try FewShotExamples.load(path: examples)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        try RoleMain.run(
            logLevel: logLevel, label: "oni.annotator",
            curve: .from(curve, clientKey: nil, binds: true, connects: false)
        ) { context, stop, logger in
            try AnnotatorServer(config: config, context: context, stop: stop, logger: logger).run()
        }
    }
}
