/// One message of an OpenAI-style chat conversation.
public struct ChatMessage: Sendable, Codable, Equatable {
    /// The speaker: `"system"`, `"user"` or `"assistant"`.
    public var role: String
    /// The message text.
    public var content: String

    /// Creates a message spoken by `role`.
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    /// A system message: instructions that frame the conversation.
    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    /// A user message: a question for the model.
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    /// An assistant message: a model answer, e.g. in a few-shot example.
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }
}
