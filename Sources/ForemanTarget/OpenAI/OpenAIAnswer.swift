import ForemanDomain
import Foundation

/// An OpenAI-compatible engine's answer as Ollama's `/api/chat` or `/api/generate` answer (ADR 0017): each streamed
/// chunk as the NDJSON line Ollama would have sent, and a whole answer as Ollama's non-streamed object.
///
/// - Content and `reasoning_content` (as `thinking`) go out as they arrive.
/// - Tool calls arrive in pieces; they go out whole, in one line, when the engine says it is done with them.
/// - The last line carries `done_reason` and the counts and durations Ollama reports, from `usage` and llama.cpp's
///   `timings`. A figure the engine did not send is left out, not made up; `load_duration` is never known.
public struct OpenAIAnswer: Sendable {
    /// Which Ollama answer to write.
    public enum Shape: Sendable {
        /// `/api/chat`: the text in `message.content`.
        case chat
        /// `/api/generate`: the text in `response`.
        case generate
    }

    /// The model as the caller named it: Ollama echoes the request's name.
    let model: String
    let shape: Shape
    private var finishReason: String?
    /// The counts and durations, from `usage` and `timings`, as far as the engine sent them.
    private var figures = Figures()
    private var calls: [Int: (id: String?, name: String, arguments: String)] = [:]
    private var ended = false

    public init(model: String, shape: Shape = .chat) {
        self.model = model
        self.shape = shape
    }

    /// The NDJSON lines (without their newline) that the event `data` of a streamed answer makes.
    public mutating func lines(forEvent data: String) throws -> [String] {
        guard !ended else { return [] }
        if data == "[DONE]" { return [finalLine()] }
        guard let chunk = try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else {
            throw TranslationError("a streamed chunk is not a JSON object")
        }
        if let message = Self.errorMessage(chunk) { throw TranslationError(message) }
        figures.take(chunk)
        var lines: [String] = []
        for choice in (chunk["choices"] as? [[String: Any]]) ?? [] {
            let delta = choice["delta"] as? [String: Any] ?? [:]
            // `/v1/completions` streams `text` in the choice itself; `/v1/chat/completions` a `delta`.
            let content = delta["content"] as? String ?? choice["text"] as? String ?? ""
            let thinking = delta["reasoning_content"] as? String ?? ""
            if !content.isEmpty || !thinking.isEmpty {
                lines.append(line(content: content, thinking: thinking.isEmpty ? nil : thinking, toolCalls: nil))
            }
            for call in (delta["tool_calls"] as? [[String: Any]]) ?? [] {
                let index = (call["index"] as? NSNumber)?.intValue ?? calls.count
                let function = call["function"] as? [String: Any] ?? [:]
                var entry = calls[index] ?? (id: nil, name: "", arguments: "")
                if let id = call["id"] as? String { entry.id = id }
                if let name = function["name"] as? String { entry.name += name }
                if let arguments = function["arguments"] as? String { entry.arguments += arguments }
                calls[index] = entry
            }
            if let reason = choice["finish_reason"] as? String {
                finishReason = reason
                if !calls.isEmpty { lines.append(line(content: "", thinking: nil, toolCalls: takeCalls())) }
            }
        }
        return lines
    }

    /// The last line, for a stream that ended without `[DONE]`; empty when it was already sent.
    public mutating func finish() -> [String] {
        ended ? [] : [finalLine()]
    }

    /// A whole (non-streamed) answer as Ollama's object.
    public static func object(fromAnswer data: Data, model: String, shape: Shape = .chat) throws -> String {
        guard let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TranslationError("the answer is not a JSON object")
        }
        if let message = errorMessage(answer) { throw TranslationError(message) }
        var translator = OpenAIAnswer(model: model, shape: shape)
        translator.figures.take(answer)
        let choice = (answer["choices"] as? [[String: Any]])?.first ?? [:]
        translator.finishReason = choice["finish_reason"] as? String
        let message = choice["message"] as? [String: Any] ?? [:]
        for (index, call) in ((message["tool_calls"] as? [[String: Any]]) ?? []).enumerated() {
            let function = call["function"] as? [String: Any] ?? [:]
            translator.calls[index] = (call["id"] as? String, function["name"] as? String ?? "", function["arguments"] as? String ?? "")
        }
        let calls = translator.takeCalls()
        return translator.doneObject(
            content: message["content"] as? String ?? choice["text"] as? String ?? "", thinking: message["reasoning_content"] as? String,
            toolCalls: calls.isEmpty ? nil : calls
        )
    }

    /// The message of an engine's error object (`{"error":{"message":…}}` or `{"error":"…"}`), if `object` is one.
    public static func errorMessage(_ object: [String: Any]) -> String? {
        if let error = object["error"] as? [String: Any] { return error["message"] as? String ?? "the engine answered an error" }
        return object["error"] as? String
    }

    // MARK: Lines

    private mutating func takeCalls() -> [String] {
        defer { calls.removeAll() }
        return calls.sorted { $0.key < $1.key }.map { _, call in
            var function = JSONObjectWriter()
            function.string("name", call.name)
            // Ollama's arguments are an object; an engine's that do not parse are passed on as the text they were.
            let parsed = (try? JSONSerialization.jsonObject(with: Data(call.arguments.utf8))) is [String: Any]
            function.raw("arguments", parsed ? call.arguments : (call.arguments.isEmpty ? "{}" : JSONObjectWriter.quoted(call.arguments)))
            var entry = JSONObjectWriter()
            if let id = call.id { entry.string("id", id) }
            entry.raw("function", function.finished())
            return entry.finished()
        }
    }

    private func messageObject(content: String, thinking: String?, toolCalls: [String]?) -> String {
        var message = JSONObjectWriter()
        message.string("role", "assistant")
        message.string("content", content)
        if let thinking { message.string("thinking", thinking) }
        if let toolCalls { message.raw("tool_calls", "[" + toolCalls.joined(separator: ",") + "]") }
        return message.finished()
    }

    private func line(content: String, thinking: String?, toolCalls: [String]?) -> String {
        object(content: content, thinking: thinking, toolCalls: toolCalls, done: false)
    }

    /// The text where this shape puts it: `message` for chat; `response` (and `thinking`) for generate.
    private func write(content: String, thinking: String?, toolCalls: [String]?, into line: inout JSONObjectWriter) {
        switch shape {
        case .chat:
            line.raw("message", messageObject(content: content, thinking: thinking, toolCalls: toolCalls))
        case .generate:
            line.string("response", content)
            if let thinking { line.string("thinking", thinking) }
        }
    }

    private mutating func finalLine() -> String {
        ended = true
        let calls = takeCalls()
        return doneObject(content: "", thinking: nil, toolCalls: calls.isEmpty ? nil : calls)
    }

    private func doneObject(content: String, thinking: String?, toolCalls: [String]?) -> String {
        object(content: content, thinking: thinking, toolCalls: toolCalls, done: true)
    }

    /// One line of Ollama's answer; the last (`done`) carries the reason and the figures.
    private func object(content: String, thinking: String?, toolCalls: [String]?, done: Bool) -> String {
        var line = JSONObjectWriter()
        line.string("model", model)
        line.string("created_at", Timestamp.string(Date()))
        write(content: content, thinking: thinking, toolCalls: toolCalls, into: &line)
        line.bool("done", done)
        guard done else { return line.finished() }
        line.string("done_reason", Self.doneReason(finishReason))
        if let prompt = figures.promptMilliseconds, let predicted = figures.predictedMilliseconds {
            line.int("total_duration", Self.nanoseconds(prompt + predicted))
        }
        // A figure the engine did not send is left out: Ollama's clients read a missing one as zero, and `null` trips
        // some of them.
        let known: [(String, Int?)] = [
            ("prompt_eval_count", figures.promptTokens), ("prompt_eval_duration", figures.promptMilliseconds.map(Self.nanoseconds)),
            ("eval_count", figures.completionTokens), ("eval_duration", figures.predictedMilliseconds.map(Self.nanoseconds)),
        ]
        for case let (key, value?) in known { line.int(key, value) }
        return line.finished()
    }

    /// OpenAI's finish reason in Ollama's words: `stop`, `length`, or the engine's own word.
    static func doneReason(_ reason: String?) -> String {
        switch reason {
        case nil, "stop", "tool_calls": "stop"
        case "length": "length"
        case let other?: other
        }
    }

    private static func nanoseconds(_ milliseconds: Double) -> Int {
        Int((milliseconds * 1_000_000).rounded())
    }

    /// What the engine reported of the work: OpenAI's `usage`, and llama.cpp's `timings` beside it.
    struct Figures: Sendable {
        var promptTokens: Int?
        var completionTokens: Int?
        var promptMilliseconds: Double?
        var predictedMilliseconds: Double?

        /// Takes the figures `object` (a chunk or a whole answer) carries.
        mutating func take(_ object: [String: Any]) {
            if let usage = object["usage"] as? [String: Any] {
                promptTokens = (usage["prompt_tokens"] as? NSNumber)?.intValue ?? promptTokens
                completionTokens = (usage["completion_tokens"] as? NSNumber)?.intValue ?? completionTokens
            }
            if let timings = object["timings"] as? [String: Any] {
                promptTokens = promptTokens ?? (timings["prompt_n"] as? NSNumber)?.intValue
                completionTokens = completionTokens ?? (timings["predicted_n"] as? NSNumber)?.intValue
                promptMilliseconds = (timings["prompt_ms"] as? NSNumber)?.doubleValue ?? promptMilliseconds
                predictedMilliseconds = (timings["predicted_ms"] as? NSNumber)?.doubleValue ?? predictedMilliseconds
            }
        }
    }
}
