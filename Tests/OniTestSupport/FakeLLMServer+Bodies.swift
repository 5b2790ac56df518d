import Foundation

/// The JSON bodies the fake server answers with: chat completions as OpenAI-compatible servers
/// write them (with log-probabilities when asked), and errors.
extension FakeLLMServer.Core {
    static func completionBody(_ content: String, model: String, number: Int, alternatives: [(token: String, logprob: Double)]? = nil) -> [UInt8] {
        var choice: [String: Any] = ["index": 0, "message": ["role": "assistant", "content": content], "finish_reason": "length"]
        if let alternatives {
            let top = alternatives.map { ["token": $0.token, "logprob": $0.logprob, "bytes": Array($0.token.utf8).map(Int.init)] as [String: Any] }
            choice["logprobs"] = ["content": [["token": content, "logprob": alternatives.first?.logprob ?? 0, "top_logprobs": top] as [String: Any]]]
        }
        var object: [String: Any] = [
            "id": "chatcmpl-fake-\(number)",
            "object": "chat.completion",
            "created": Int(Date().timeIntervalSince1970),
            "model": model,
            "choices": [["index": 0, "message": ["role": "assistant", "content": content], "finish_reason": "stop"] as [String: Any]],
            "usage": ["prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0],
        ]
        if alternatives != nil { object["choices"] = [choice] }
        return json(object)
    }

    static func errorBody(_ status: Int) -> [UInt8] {
        json(["error": ["message": "fake server: \(reason(status))", "type": "fake_error", "code": status] as [String: Any]])
    }

    static func json(_ object: [String: Any]) -> [UInt8] {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            preconditionFailure("fake server bodies hold only JSON-compatible values")
        }
        return [UInt8](data)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 411: "Length Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status \(status)"
        }
    }
}
