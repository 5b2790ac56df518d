/// Something that completes chat conversations: a real LLM server or a test double.
public protocol LLMBackend: Sendable {
    /// The model name reported with each label.
    var model: String { get }

    /// Sends the request's conversation and returns the assistant's reply, with the
    /// first generated token's most likely alternatives when the request asks for them.
    func complete(_ request: CompletionRequest) async throws(LLMError) -> Completion

    /// The model the server says it serves (OpenAI's `GET /models`), if it says: what labels are
    /// cached under, so that two servers both called "default" never answer with each other's.
    /// Blocks the calling thread (briefly: asked once, when an annotator starts), so that it needs
    /// no thread of the concurrency pool.
    func reportedModel() -> String?
}

extension LLMBackend {
    public func reportedModel() -> String? { nil }
}

/// A backend whose labels are recorded (and cached) under another model name: the server's own.
public struct RenamedBackend: LLMBackend {
    public let base: any LLMBackend
    public let model: String

    public init(_ base: any LLMBackend, model: String) {
        self.base = base
        self.model = model
    }

    public func complete(_ request: CompletionRequest) async throws(LLMError) -> Completion { try await base.complete(request) }
    public func reportedModel() -> String? { model }
}

extension LLMBackend {
    /// Sends `messages` with the backend's default limits and returns the reply's text.
    public func complete(_ messages: [ChatMessage]) async throws(LLMError) -> String {
        try await complete(CompletionRequest(messages: messages)).text
    }
}

/// One chat completion to ask for.
public struct CompletionRequest: Sendable, Equatable {
    /// The conversation.
    public var messages: [ChatMessage]
    /// The most tokens to generate; nil uses the backend's configured limit.
    public var maxTokens: Int?
    /// How many of the first token's most likely alternatives to return (OpenAI's
    /// `top_logprobs`); 0 asks for none.
    public var alternatives: Int
    /// The sampling temperature; nil uses the backend's configured one.
    public var temperature: Double?

    public init(messages: [ChatMessage], maxTokens: Int? = nil, alternatives: Int = 0, temperature: Double? = nil) {
        self.messages = messages
        self.maxTokens = maxTokens
        self.alternatives = alternatives
        self.temperature = temperature
    }
}

/// A model's reply.
public struct Completion: Sendable, Equatable {
    /// The generated text.
    public var text: String
    /// The first generated token's most likely alternatives with their natural-log
    /// probabilities, most likely first; empty unless the request asked for them.
    public var firstTokenAlternatives: [TokenAlternative]

    public init(text: String, firstTokenAlternatives: [TokenAlternative] = []) {
        self.text = text
        self.firstTokenAlternatives = firstTokenAlternatives
    }
}

/// One candidate token and its log-probability.
public struct TokenAlternative: Sendable, Equatable, Codable {
    public var token: String
    public var logprob: Double

    public init(token: String, logprob: Double) {
        self.token = token
        self.logprob = logprob
    }
}
