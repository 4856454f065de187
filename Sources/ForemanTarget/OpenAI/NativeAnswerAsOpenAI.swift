import ForemanDomain
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
        let logprobs = Self.logprobs(native["logprobs"])
        let done = native["done"] as? Bool ?? false
        var events: [String] = []
        let emptyTrailer = done && firstChunkSent && content.isEmpty && thinking.isEmpty && calls == nil && logprobs == nil
        if !emptyTrailer {
            let includeRole = !firstChunkSent
            if !thinking.isEmpty, !content.isEmpty || calls != nil {
                // One logical emission as two chunks: the reasoning (with the logprobs), then the content or calls.
                events.append(chatChunk(created: created, delta: Self.delta(role: includeRole, reasoning: thinking), logprobs: logprobs))
                events.append(chatChunk(created: created, delta: Self.delta(role: false, content: content, calls: calls)))
            } else {
                let delta = Self.delta(role: includeRole, content: content, reasoning: thinking.isEmpty ? nil : thinking, calls: calls)
                events.append(chatChunk(created: created, delta: delta, logprobs: logprobs))
            }
            if calls != nil { toolCallSent = true }
            firstChunkSent = true
        }
        if done {
            var reason = native["done_reason"] as? String ?? ""
            if reason.isEmpty { reason = "stop" }
            if reason == "stop", toolCallSent { reason = "tool_calls" }
            events.append(chatChunk(created: created, delta: JSONObjectWriter(), finishReason: reason))
            events += end(native, created: created)
        }
        return events
    }

    private func completionEvents(_ native: [String: Any], created: Int) -> [String] {
        let reason = (native["done_reason"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        let choice = Self.completionChoice(text: native["response"] as? String ?? "", reason: reason, logprobs: Self.logprobs(native["logprobs"]))
        var events = [Self.event(answer(object: "text_completion", created: created, choices: [choice], usage: includeUsage ? Self.usage(nil) : nil, choicesFirst: true))]
        if native["done"] as? Bool ?? false { events += end(native, created: created) }
        return events
    }

    /// The usage chunk when it was asked for, then `[DONE]`.
    private func end(_ native: [String: Any], created: Int) -> [String] {
        var events: [String] = []
        if includeUsage {
            let object = shape == .chat ? "chat.completion.chunk" : "text_completion"
            events.append(Self.event(answer(object: object, created: created, choices: [], usage: Self.usage(native), choicesFirst: shape == .completion)))
        }
        events.append("data: [DONE]\n\n")
        return events
    }

    private func chatChunk(created: Int, delta: JSONObjectWriter, finishReason: String? = nil, logprobs: String? = nil) -> String {
        var choice = JSONObjectWriter()
        choice.int("index", 0)
        choice.object("delta", delta)
        choice.string("finish_reason", finishReason)
        if let logprobs { choice.raw("logprobs", logprobs) }
        return Self.event(answer(object: "chat.completion.chunk", created: created, choices: [choice.finished()]))
    }

    /// A chunk or a whole answer, its fields in the order Ollama's layer writes them (a streamed completion lists
    /// its choices before its model).
    private func answer(object: String, created: Int, choices: [String], usage: String? = nil, choicesFirst: Bool = false) -> String {
        var writer = JSONObjectWriter()
        writer.string("id", id)
        writer.string("object", object)
        writer.int("created", created)
        if choicesFirst { writer.raw("choices", JSONObjectWriter.array(choices)) }
        writer.string("model", model)
        writer.string("system_fingerprint", "fp_ollama")
        if !choicesFirst { writer.raw("choices", JSONObjectWriter.array(choices)) }
        if let usage { writer.raw("usage", usage) }
        return writer.finished()
    }

    /// A whole native answer as OpenAI's `chat.completion` or `text_completion` object.
    public func whole(_ answer: Data) -> Data? {
        guard let native = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any] else { return nil }
        let reason = (native["done_reason"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        let logprobs = Self.logprobs(native["logprobs"])
        let choice: String
        switch shape {
        case .chat:
            let message = native["message"] as? [String: Any] ?? [:]
            let calls = Self.toolCalls(message["tool_calls"])
            var written = JSONObjectWriter()
            written.string("role", message["role"] as? String ?? "assistant")
            written.string("content", message["content"] as? String ?? "")
            if let thinking = message["thinking"] as? String, !thinking.isEmpty { written.string("reasoning", thinking) }
            if let calls { written.raw("tool_calls", calls) }
            var writer = JSONObjectWriter()
            writer.int("index", 0)
            writer.object("message", written)
            writer.string("finish_reason", reason.map { $0 == "stop" && calls != nil ? "tool_calls" : $0 })
            if let logprobs { writer.raw("logprobs", logprobs) }
            choice = writer.finished()
        case .completion:
            choice = Self.completionChoice(text: native["response"] as? String ?? "", reason: reason, logprobs: logprobs)
        }
        let object = shape == .chat ? "chat.completion" : "text_completion"
        return Data(self.answer(object: object, created: Self.unixTime(native["created_at"]), choices: [choice], usage: Self.usage(native)).utf8)
    }

    private static func completionChoice(text: String, reason: String?, logprobs: String?) -> String {
        var writer = JSONObjectWriter()
        writer.string("text", text)
        writer.int("index", 0)
        writer.string("finish_reason", reason)
        if let logprobs { writer.raw("logprobs", logprobs) }
        return writer.finished()
    }

    /// A delta with the fields given: Ollama's layer leaves out a role after the first chunk, and an absent content.
    private static func delta(role: Bool, content: String? = nil, reasoning: String? = nil, calls: String? = nil) -> JSONObjectWriter {
        var writer = JSONObjectWriter()
        if role { writer.string("role", "assistant") }
        if let content { writer.string("content", content) }
        if let reasoning { writer.string("reasoning", reasoning) }
        if let calls { writer.raw("tool_calls", calls) }
        return writer
    }

    /// A native `/api/embed` answer as OpenAI's embedding list; vectors as base64 little-endian float32 when asked.
    /// The numbers are written back as parsed, never through `Double`, so a float answer keeps the box's digits.
    public static func embeddings(_ answer: Data, model: String, base64: Bool) -> Data? {
        guard let native = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any],
            let vectors = native["embeddings"] as? [[NSNumber]]
        else { return nil }
        var data: [String] = []
        data.reserveCapacity(vectors.count)
        for (index, vector) in vectors.enumerated() {
            var item = JSONObjectWriter()
            item.string("object", "embedding")
            if base64 {
                item.string("embedding", Self.base64(vector))
            } else {
                guard let numbers = try? JSONSerialization.data(withJSONObject: vector) else { return nil }
                item.raw("embedding", String(decoding: numbers, as: UTF8.self))
            }
            item.int("index", index)
            data.append(item.finished())
        }
        let tokens = (native["prompt_eval_count"] as? NSNumber)?.intValue ?? 0
        var usage = JSONObjectWriter()
        usage.int("prompt_tokens", tokens)
        usage.int("total_tokens", tokens)
        var list = JSONObjectWriter()
        list.string("object", "list")
        list.raw("data", JSONObjectWriter.array(data))
        list.string("model", model)
        list.object("usage", usage)
        return Data(list.finished().utf8)
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
        var error = JSONObjectWriter()
        error.string("message", message)
        error.string("type", type)
        error.raw("param", nil)
        error.raw("code", nil)
        var writer = JSONObjectWriter()
        writer.object("error", error)
        return Data(writer.finished().utf8)
    }

    /// An error in the middle of a stream: one last event holding the error object.
    public static func errorEvent(_ message: String) -> String {
        "data: " + String(decoding: error(status: 500, message: message), as: UTF8.self) + "\n\n"
    }

    private static func usage(_ native: [String: Any]?) -> String {
        let prompt = (native?["prompt_eval_count"] as? NSNumber)?.intValue ?? 0
        let completion = (native?["eval_count"] as? NSNumber)?.intValue ?? 0
        var writer = JSONObjectWriter()
        writer.int("prompt_tokens", prompt)
        writer.int("completion_tokens", completion)
        writer.int("total_tokens", prompt + completion)
        return writer.finished()
    }

    /// Ollama's tool calls (arguments as an object) as OpenAI's (arguments as JSON text, with an index), as a JSON
    /// array; `nil` when there are none.
    private static func toolCalls(_ value: Any?) -> String? {
        guard let calls = value as? [[String: Any]], !calls.isEmpty else { return nil }
        return JSONObjectWriter.array(calls.map { call in
            let function = call["function"] as? [String: Any] ?? [:]
            // Go writes a map's keys sorted, and so the arguments Ollama's layer sends.
            let arguments = function["arguments"].flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys, .fragmentsAllowed]) }
            var named = JSONObjectWriter()
            named.string("name", function["name"] as? String ?? "")
            named.string("arguments", arguments.map { String(decoding: $0, as: UTF8.self) } ?? "{}")
            var writer = JSONObjectWriter()
            writer.string("id", call["id"] as? String ?? "")
            writer.int("index", (function["index"] as? NSNumber)?.intValue ?? 0)
            writer.string("type", "function")
            writer.object("function", named)
            return writer.finished()
        })
    }

    /// A line's `logprobs` as OpenAI's `{"content": [...]}`; `nil` when there are none.
    private static func logprobs(_ value: Any?) -> String? {
        guard let entries = value as? [Any], !entries.isEmpty,
            let content = try? JSONSerialization.data(withJSONObject: entries, options: [.withoutEscapingSlashes])
        else { return nil }
        var writer = JSONObjectWriter()
        writer.raw("content", String(decoding: content, as: UTF8.self))
        return writer.finished()
    }

    /// Seconds since 1970 of an RFC 3339 time as Ollama writes it (nanoseconds, any offset); now when there is none.
    public static func unixTime(_ value: Any?) -> Int {
        (value as? String).flatMap(DatabaseDate.unixSeconds(rfc3339:)) ?? Int(Date().timeIntervalSince1970)
    }

    private static func event(_ json: String) -> String {
        "data: " + json + "\n\n"
    }
}
