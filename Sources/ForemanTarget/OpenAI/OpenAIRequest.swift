import Foundation

/// Ollama's native bodies as an OpenAI-compatible engine's, for providers of the `openai` kind (ADR 0017):
/// `/api/chat` as `/v1/chat/completions`; `/api/generate` as a chat with one user message (Ollama applies the model's
/// template to a prompt, and so does the engine's chat endpoint), or with `raw` as `/v1/completions`; `/api/embed` as
/// `/v1/embeddings`.
///
/// Options map where the engine has the same knob (llama.cpp and vLLM accept `top_k`, `min_p`, `repeat_penalty` and
/// `typical_p` beside OpenAI's own). The rest are settings of the engine itself, not of one request; they are
/// reported back as not honoured, never approximated.
public enum OpenAIRequest {
    /// The engine's path and body, whether the caller asked for a stream, and the caller's fields the engine cannot
    /// honour.
    public struct Translation: Sendable {
        public var path: String
        public var body: Data
        public var stream: Bool
        public var unhonoured: [String]
    }

    /// Ollama options with an engine knob of the same meaning, and that knob's name.
    static let mappedOptions: [String: String] = [
        "temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "min_p": "min_p", "typical_p": "typical_p",
        "seed": "seed", "stop": "stop", "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty",
        "repeat_penalty": "repeat_penalty",
    ]

    /// Translates `native`, a body that passed `/api/chat`'s checks; `model` is the model as the engine names it.
    public static func chat(_ native: Data, model: String) throws -> Translation {
        let object = try object(native)
        var body: [String: Any] = [:]
        body["messages"] = ((object["messages"] as? [[String: Any]]) ?? []).enumerated().map { message($0.element, index: $0.offset) }
        if let tools = object["tools"] as? [Any], !tools.isEmpty { body["tools"] = tools }
        return try generation(object, into: body, path: "/v1/chat/completions", model: model)
    }

    /// Translates `native`, a body that passed `/api/generate`'s checks.
    public static func generate(_ native: Data, model: String) throws -> Translation {
        let object = try object(native)
        let prompt = object["prompt"] as? String ?? ""
        var body: [String: Any] = [:]
        var unhonoured: [String] = []
        for key in ["suffix", "template", "context"] where object[key] != nil && !(object[key] is NSNull) {
            unhonoured.append(key)
        }
        if object["raw"] as? Bool == true {
            body["prompt"] = prompt
            var translation = try generation(object, into: body, path: "/v1/completions", model: model)
            translation.unhonoured += unhonoured
            return translation
        }
        var messages: [[String: Any]] = []
        if let system = object["system"] as? String, !system.isEmpty { messages.append(["role": "system", "content": system]) }
        var user: [String: Any] = ["role": "user", "content": prompt]
        if let images = object["images"] { user["images"] = images }
        messages.append(message(user, index: 0))
        body["messages"] = messages
        var translation = try generation(object, into: body, path: "/v1/chat/completions", model: model)
        translation.unhonoured += unhonoured
        return translation
    }

    /// Translates `native`, a body that passed `/api/embed`'s checks.
    public static func embed(_ native: Data, model: String) throws -> Translation {
        let object = try object(native)
        var body: [String: Any] = ["model": model, "input": object["input"] ?? ""]
        if let dimensions = object["dimensions"] as? NSNumber { body["dimensions"] = dimensions }
        let unhonoured = ["truncate", "options", "keep_alive"].filter { object[$0] != nil && !(object[$0] is NSNull) }
        return Translation(path: "/v1/embeddings", body: try encoded(body), stream: false, unhonoured: unhonoured)
    }

    /// The fields a chat and a generation share: the stream, the format, the options.
    private static func generation(_ object: [String: Any], into body: [String: Any], path: String, model: String) throws -> Translation {
        var body = body
        var unhonoured: [String] = []
        body["model"] = model
        let stream = (object["stream"] as? Bool) ?? true
        body["stream"] = stream
        if stream { body["stream_options"] = ["include_usage": true] }
        if let format = object["format"] {
            if let text = format as? String, text == "json" {
                body["response_format"] = ["type": "json_object"]
            } else if let schema = format as? [String: Any] {
                body["response_format"] = ["type": "json_schema", "json_schema": ["name": "response", "schema": schema]]
            } else if !(format is NSNull), (format as? String)?.isEmpty != true {
                unhonoured.append("format")
            }
        }
        if let options = object["options"] as? [String: Any] {
            for (key, value) in options.sorted(by: { $0.key < $1.key }) {
                if key == "num_predict" {
                    // -1 (until done) and -2 (fill the context) are the engine's own default: no limit to send.
                    if let limit = (value as? NSNumber)?.intValue, limit > 0 { body["max_tokens"] = limit }
                } else if let knob = mappedOptions[key] {
                    body[knob] = value
                } else {
                    unhonoured.append("options.\(key)")
                }
            }
        }
        for key in ["keep_alive", "think"] where object[key] != nil && !(object[key] is NSNull) {
            unhonoured.append(key)
        }
        return Translation(path: path, body: try encoded(body), stream: stream, unhonoured: unhonoured)
    }

    private static func object(_ native: Data) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: native) as? [String: Any] else {
            throw TranslationError("the body is not a JSON object")
        }
        return object
    }

    private static func encoded(_ body: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
    }

    /// One Ollama message as an OpenAI message: images become image parts, tool calls get ids and string arguments.
    static func message(_ native: [String: Any], index: Int) -> [String: Any] {
        var message: [String: Any] = ["role": native["role"] as? String ?? "user"]
        let text = native["content"] as? String ?? ""
        if let images = native["images"] as? [String], !images.isEmpty {
            var parts: [[String: Any]] = [["type": "text", "text": text]]
            for image in images {
                parts.append(["type": "image_url", "image_url": ["url": "data:image/png;base64," + image]])
            }
            message["content"] = parts
        } else {
            message["content"] = text
        }
        if let calls = native["tool_calls"] as? [[String: Any]], !calls.isEmpty {
            message["tool_calls"] = calls.enumerated().map { offset, call -> [String: Any] in
                let function = call["function"] as? [String: Any] ?? [:]
                let arguments = function["arguments"] ?? [String: Any]()
                let text = (arguments as? String)
                    ?? (try? JSONSerialization.data(withJSONObject: arguments, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
                    ?? "{}"
                return [
                    "id": call["id"] as? String ?? "call_\(index)_\(offset)", "type": "function",
                    "function": ["name": function["name"] as? String ?? "", "arguments": text],
                ]
            }
        }
        if message["role"] as? String == "tool" {
            if let id = native["tool_call_id"] as? String { message["tool_call_id"] = id }
            if let name = native["tool_name"] as? String { message["name"] = name }
        }
        return message
    }
}

/// A body the translation cannot carry.
public struct TranslationError: Error, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
