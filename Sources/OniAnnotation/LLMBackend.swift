/// Something that completes chat conversations: a real LLM server or a test double.
public protocol LLMBackend: Sendable {
    /// The model name reported with each label.
    var model: String { get }

    /// Sends `messages` and returns the content of the assistant's reply.
    func complete(_ messages: [ChatMessage]) async throws(LLMError) -> String
}
