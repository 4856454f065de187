import Foundation

/// A native Ollama answer as OpenAI's API answers (ADR 0019), written as Ollama's own compatibility layer writes it:
/// each streamed line as server-sent events, a whole answer as one completion object.
///
/// Streamed chat:
/// - The first chunk carries `role`.
/// - A line with both thinking and content becomes two chunks.
/// - The empty trailer line is not sent.
/// - The end is a finish chunk with an empty delta, a usage chunk when the caller asked for one, and `[DONE]`.
public struct NativeAnswerAsOpenAI: Sendable {
    /// Which OpenAI answer to write.
    public enum Shape: Sendable {
        /// `/v1/chat/completions`, from `/api/chat` lines.
        case chat
        /// `/v1/completions`, from `/api/generate` lines.
        case completion
    }

    public let id: String
    public let shape: Shape
    /// The model id the answer names: the one the caller sent.
    public let model: String
    /// `stream_options.include_usage`.
    public let includeUsage: Bool
    /// OpenAI stamps one `created` on every chunk of a stream: the first line's.
    private var created: Int?
    private var firstChunkSent = false
    private var toolCallSent = false

    /// - Parameter id: the answer's id; by default `chatcmpl-N` or `cmpl-N`, as Ollama numbers them.
    public init(shape: Shape, model: String, includeUsage: Bool, id: String? = nil) {
        self.shape = shape
        self.model = model
        self.includeUsage = includeUsage
        self.id = id ?? Self.makeID(shape)
    }

    static func makeID(_ shape: Shape) -> String {
        (shape == .chat ? "chatcmpl-" : "cmpl-") + String(Int.random(in: 0..<999))
    }

    /// The events (each `data: …` and a blank line) that one native line makes.
    public mutating func events(forLine line: Data) -> [String] {
        guard let native = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else { return [] }
        if let message = native["error"] as? String { return [Self.errorEvent(message)] }
        let stamp = created ?? Self.unixTime(native["created_at"])
        created = stamp
        switch shape {
        case .chat: return chatEvents(native, created: stamp)
        case .completion: return completionEvents(native, created: stamp)
        }
    }

    private mutating func chatEvents(_ native: [String: Any], created: Int) -> [String] {
        let message = native["message"] as? [String: Any] ?? [:]
        let content = message["content"] as? String ?? ""
        let thinking = message["thinking"] as? String ?? ""
        let calls = Self.toolCalls(message["tool_calls"])
        let done = native["done"] as? Bool ?? false
        var events: [String] = []
        let emptyTrailer = done && firstChunkSent && content.isEmpty && thinking.isEmpty && calls.isEmpty && native["logprobs"] == nil
        if !emptyTrailer {
            var deltas: [[String: Any]] = []
            let role: [String: Any] = firstChunkSent ? [:] : ["role": "assistant"]
            if !thinking.isEmpty, !content.isEmpty || !calls.isEmpty {
                deltas.append(role.merging(["reasoning": thinking]) { first, _ in first })
                var rest: [String: Any] = ["content": content]
                if !calls.isEmpty { rest["tool_calls"] = calls }
                deltas.append(rest)
            } else {
                var delta = role.merging(["content": content]) { first, _ in first }
                if !thinking.isEmpty { delta["reasoning"] = thinking }
                if !calls.isEmpty { delta["tool_calls"] = calls }
                deltas.append(delta)
            }
            for delta in deltas {
                events.append(Self.event(chunk(created: created, choices: [["index": 0, "delta": delta, "finish_reason": NSNull()]])))
            }
            if !calls.isEmpty { toolCallSent = true }
            firstChunkSent = true
        }
        if done {
            var reason = native["done_reason"] as? String ?? ""
            if reason.isEmpty { reason = "stop" }
            if reason == "stop", toolCallSent { reason = "tool_calls" }
            events.append(Self.event(chunk(created: created, choices: [["index": 0, "delta": [String: Any](), "finish_reason": reason]])))
            events += end(native, created: created)
        }
        return events
    }

    private func completionEvents(_ native: [String: Any], created: Int) -> [String] {
        let reason: Any = (native["done_reason"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? NSNull()
        var piece = chunk(created: created, choices: [["text": native["response"] as? String ?? "", "index": 0, "finish_reason": reason]])
        if includeUsage { piece["usage"] = Self.usage(nil) }
        var events = [Self.event(piece)]
        if native["done"] as? Bool ?? false { events += end(native, created: created) }
        return events
    }

    /// The usage chunk when it was asked for, then `[DONE]`.
    private func end(_ native: [String: Any], created: Int) -> [String] {
        var events: [String] = []
        if includeUsage {
            var usage = chunk(created: created, choices: [])
            usage["usage"] = Self.usage(native)
            events.append(Self.event(usage))
        }
        events.append("data: [DONE]\n\n")
        return events
    }

    private func chunk(created: Int, choices: [[String: Any]]) -> [String: Any] {
        [
            "id": id, "object": shape == .chat ? "chat.completion.chunk" : "text_completion", "created": created, "model": model,
            "system_fingerprint": "fp_ollama", "choices": choices,
        ]
    }

    /// A whole native answer as OpenAI's `chat.completion` or `text_completion` object.
    public func whole(_ answer: Data) -> Data? {
        guard let native = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any] else { return nil }
        let reason = (native["done_reason"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        var choice: [String: Any] = ["index": 0]
        switch shape {
        case .chat:
            let message = native["message"] as? [String: Any] ?? [:]
            let calls = Self.toolCalls(message["tool_calls"])
            var written: [String: Any] = ["role": message["role"] as? String ?? "assistant", "content": message["content"] as? String ?? ""]
            if let thinking = message["thinking"] as? String, !thinking.isEmpty { written["reasoning"] = thinking }
            if !calls.isEmpty { written["tool_calls"] = calls }
            choice["message"] = written
            choice["finish_reason"] = reason.map { $0 == "stop" && !calls.isEmpty ? "tool_calls" : $0 } ?? NSNull()
        case .completion:
            choice["text"] = native["response"] as? String ?? ""
            choice["finish_reason"] = reason ?? NSNull()
        }
        var object = chunk(created: Self.unixTime(native["created_at"]), choices: [choice])
        object["object"] = shape == .chat ? "chat.completion" : "text_completion"
        object["usage"] = Self.usage(native)
        return Self.json(object)
    }

    /// A native `/api/embed` answer as OpenAI's embedding list; vectors as base64 little-endian float32 when asked.
    /// The numbers are written back as parsed, never through `Double`, so a float answer keeps the box's digits.
    public static func embeddings(_ answer: Data, model: String, base64: Bool) -> Data? {
        guard let native = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any],
            let vectors = native["embeddings"] as? [[NSNumber]]
        else { return nil }
        let data = vectors.enumerated().map { index, vector -> [String: Any] in
            ["object": "embedding", "index": index, "embedding": base64 ? Self.base64(vector) : vector]
        }
        let tokens = native["prompt_eval_count"] as? NSNumber ?? 0
        return json(["object": "list", "data": data, "model": model, "usage": ["prompt_tokens": tokens, "total_tokens": tokens]])
    }

    private static func base64(_ vector: [NSNumber]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(vector.count * 4)
        for value in vector {
            let bits = Float(value.doubleValue).bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        return Data(bytes).base64EncodedString()
    }

    /// OpenAI's error object: `{"error":{"message","type","param","code"}}`, typed by status as Ollama's layer types it.
    public static func error(status: Int, message: String) -> Data {
        let type = status == 400 ? "invalid_request_error" : status == 404 ? "not_found_error" : "api_error"
        return json(["error": ["message": message, "type": type, "param": NSNull(), "code": NSNull()]]) ?? Data()
    }

    /// An error in the middle of a stream: one last event holding the error object.
    public static func errorEvent(_ message: String) -> String {
        "data: " + String(decoding: error(status: 500, message: message), as: UTF8.self) + "\n\n"
    }

    private static func usage(_ native: [String: Any]?) -> [String: Any] {
        let prompt = (native?["prompt_eval_count"] as? NSNumber)?.intValue ?? 0
        let completion = (native?["eval_count"] as? NSNumber)?.intValue ?? 0
        return ["prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion]
    }

    /// Ollama's tool calls (arguments as an object) as OpenAI's (arguments as JSON text, with an index).
    private static func toolCalls(_ value: Any?) -> [[String: Any]] {
        guard let calls = value as? [[String: Any]] else { return [] }
        return calls.map { call in
            let function = call["function"] as? [String: Any] ?? [:]
            let arguments = function["arguments"].flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys, .fragmentsAllowed]) }
            return [
                "id": call["id"] as? String ?? "", "index": (function["index"] as? NSNumber)?.intValue ?? 0, "type": "function",
                "function": ["name": function["name"] as? String ?? "", "arguments": arguments.map { String(decoding: $0, as: UTF8.self) } ?? "{}"],
            ]
        }
    }

    /// Seconds since 1970 of an RFC 3339 time as Ollama writes it (nanoseconds, any offset); now when there is none.
    public static func unixTime(_ value: Any?) -> Int {
        guard var text = value as? String else { return Int(Date().timeIntervalSince1970) }
        // ISO8601DateFormatter reads at most milliseconds: the rest of the fraction is dropped.
        if let dot = text.firstIndex(of: "."), let end = text[dot...].firstIndex(where: { !$0.isNumber && $0 != "." }) {
            text = String(text[..<dot]) + String(text[end...])
        }
        return ISO8601DateFormatter().date(from: text).map { Int($0.timeIntervalSince1970) } ?? Int(Date().timeIntervalSince1970)
    }

    private static func event(_ object: [String: Any]) -> String {
        "data: " + String(decoding: json(object) ?? Data(), as: UTF8.self) + "\n\n"
    }

    private static func json(_ object: [String: Any]) -> Data? {
        try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}
