import ForemanDomain
import Foundation
import NIOCore

/// Builds Ollama's non-streaming response from the lines of a streamed one.
///
/// Ollama's own rule (`writeChatResponse`): text fields are concatenated, tool calls appended, and
/// every other field comes from the last chunk.
public enum ResponseAssembler {
    /// The final response for `lines` of a `kind` job; a single line (a non-streamed body) is kept as it is.
    public static func assemble(kind: JobKind, lines: [ByteBuffer]) -> Data? {
        guard let last = lines.last else { return nil }
        if lines.count == 1 { return Data(last.readableBytesView) }
        let objects = lines.compactMap { json($0) }
        guard var result = objects.last else { return Data(last.readableBytesView) }
        switch kind {
        case .chat:
            var message = (result["message"] as? [String: Any]) ?? ["role": "assistant"]
            var content = "", thinking = ""
            var toolCalls: [Any] = []
            for object in objects {
                guard let part = object["message"] as? [String: Any] else { continue }
                content += (part["content"] as? String) ?? ""
                thinking += (part["thinking"] as? String) ?? ""
                toolCalls += (part["tool_calls"] as? [Any]) ?? []
            }
            message["content"] = content
            if !thinking.isEmpty { message["thinking"] = thinking }
            if !toolCalls.isEmpty { message["tool_calls"] = toolCalls }
            result["message"] = message
        case .generate:
            var response = "", thinking = ""
            for object in objects {
                response += (object["response"] as? String) ?? ""
                thinking += (object["thinking"] as? String) ?? ""
            }
            result["response"] = response
            if !thinking.isEmpty { result["thinking"] = thinking }
        case .embed, .messages, .responses:
            break
        }
        return try? JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// The `error` text of a line such as `{"error":"..."}`, which is how Ollama ends a failed stream.
    public static func errorMessage(in line: ByteBuffer) -> String? {
        guard RawJSONFields.mentions(errorKey, in: line) else { return nil }
        return json(line)?["error"] as? String
    }

    /// Every successful answer is scanned for it.
    private static let errorKey = RawJSONFields.QuotedKey("error")

    private static func json(_ line: ByteBuffer) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.readableBytesView))) as? [String: Any]
    }
}
