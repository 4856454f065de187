import ForemanDomain
import Foundation

/// A call to OpenAI's API as the native Ollama call that does its work (ADR 0019): what Ollama's own compatibility
/// layer makes of it, field by field, plus the Ollama `options` and `keep_alive` a caller may add, which Ollama's
/// layer drops.
///
/// The errors are the texts Ollama's layer answers with, so a client sees the same 400.
public enum OpenAICallAsNative {
    /// `POST /v1/chat/completions` as an `/api/chat` body; `model` is the model as the box names it.
    public static func chat(_ body: Data, model: String) throws -> Data {
        try chat(try object(body), model: model)
    }

    /// `POST /v1/chat/completions`, already parsed, as an `/api/chat` body.
    public static func chat(_ request: [String: Any], model: String) throws -> Data {
        try checkTypes(request, arrays: ["messages", "tools"], integers: ["max_tokens", "seed", "top_logprobs"], bools: ["stream", "logprobs"])
        guard let messages = request["messages"] as? [[String: Any]], !messages.isEmpty else {
            if request["messages"] is [Any] || request["messages"] == nil { throw TranslationError("[] is too short - 'messages'") }
            throw TranslationError("invalid message format")
        }
        var native: [String: Any] = ["model": model, "messages": try nativeMessages(messages), "stream": request["stream"] as? Bool ?? false]
        var options = try commonOptions(request, stopMustBeStrings: false)
        for key in ["frequency_penalty", "presence_penalty"] {
            if let value = request[key] as? NSNumber { options[key] = value }
        }
        if let format = try format(request["response_format"]) { native["format"] = format }
        if let tools = request["tools"] as? [Any], !tools.isEmpty { native["tools"] = tools }
        if let think = try think(request) { native["think"] = think }
        if request["logprobs"] as? Bool == true { native["logprobs"] = true }
        if let top = request["top_logprobs"] as? NSNumber, top.intValue > 0 { native["top_logprobs"] = top }
        return try finished(native, options: options, request: request)
    }

    /// `POST /v1/completions` as an `/api/generate` body.
    public static func completion(_ body: Data, model: String) throws -> Data {
        try completion(try object(body), model: model)
    }

    /// `POST /v1/completions`, already parsed, as an `/api/generate` body.
    public static func completion(_ request: [String: Any], model: String) throws -> Data {
        try checkTypes(request, strings: ["prompt", "suffix"], integers: ["max_tokens", "seed", "logprobs"], bools: ["stream"])
        var native: [String: Any] = ["model": model, "prompt": request["prompt"] as? String ?? "", "stream": request["stream"] as? Bool ?? false]
        var options = try commonOptions(request, stopMustBeStrings: true)
        options["frequency_penalty"] = request["frequency_penalty"] as? NSNumber ?? 0
        options["presence_penalty"] = request["presence_penalty"] as? NSNumber ?? 0
        if let topP = request["top_p"] as? NSNumber, topP.doubleValue == 0 { options["top_p"] = 1.0 }
        if let suffix = request["suffix"] as? String, !suffix.isEmpty { native["suffix"] = suffix }
        if let logprobs = request["logprobs"] as? NSNumber, logprobs.intValue > 0 {
            native["logprobs"] = true
            native["top_logprobs"] = logprobs
        }
        return try finished(native, options: options, request: request)
    }

    /// `POST /v1/embeddings` as an `/api/embed` body: the input as it is (an empty string as one empty input), and
    /// `dimensions` when positive. The encoding is the answer's business, checked here all the same.
    public static func embeddings(_ body: Data, model: String) throws -> Data {
        try embeddings(try object(body), model: model)
    }

    /// `POST /v1/embeddings`, already parsed, as an `/api/embed` body.
    public static func embeddings(_ request: [String: Any], model: String) throws -> Data {
        let format = request["encoding_format"] as? String ?? ""
        guard format.isEmpty || ["float", "base64"].contains(format.lowercased()) else {
            throw TranslationError("Invalid value for 'encoding_format' = \(format). Supported values: ['float', 'base64'].")
        }
        var input = request["input"]
        if input as? String == "" { input = [""] }
        guard let input, !(input is NSNull), (input as? [Any])?.isEmpty != true else { throw TranslationError("invalid input") }
        var native: [String: Any] = ["model": model, "input": input]
        if let dimensions = request["dimensions"] as? NSNumber, dimensions.intValue > 0 { native["dimensions"] = dimensions }
        return try JSONSerialization.data(withJSONObject: native, options: [.withoutEscapingSlashes])
    }

    /// Whether an `/v1/embeddings` body asks for base64 vectors.
    public static func wantsBase64(_ request: [String: Any]) -> Bool {
        (request["encoding_format"] as? String)?.lowercased() == "base64"
    }

    /// Refuses a field of the wrong JSON type with a 400 naming it, as Ollama's layer refuses what it cannot bind,
    /// rather than dropping it.
    private static func checkTypes(
        _ request: [String: Any], strings: [String] = [], arrays: [String] = [], integers: [String] = [], bools: [String] = []
    ) throws {
        func refuse(_ field: String, _ expected: String) -> TranslationError {
            TranslationError("invalid type for '\(field)' field: expected \(expected), got \(goType(request[field]))")
        }
        func present(_ field: String) -> Any? {
            guard let value = request[field], !(value is NSNull) else { return nil }
            return value
        }
        for field in strings where present(field) != nil && !(request[field] is String) { throw refuse(field, "a string") }
        for field in arrays where present(field) != nil && !(request[field] is [Any]) { throw refuse(field, "an array") }
        for field in integers {
            guard let value = present(field) else { continue }
            guard JSONValue.isNumber(value), let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded() else {
                throw refuse(field, "a whole number")
            }
        }
        for field in bools { if let value = present(field), !JSONValue.isBool(value) { throw refuse(field, "a boolean") } }
        for field in ["temperature", "top_p", "frequency_penalty", "presence_penalty"] {
            guard let value = present(field) else { continue }
            guard JSONValue.isNumber(value) else { throw refuse(field, "a number") }
        }
        if let stop = present("stop"), !(stop is String), !(stop is [Any]) { throw refuse("stop", "a string or an array") }
        if let options = present("options"), !(options is [String: Any]) { throw refuse("options", "an object") }
    }

    /// The options every generation takes: `stop`, `max_tokens` as `num_predict`, `seed`, and `temperature` and
    /// `top_p`, which Ollama's layer sets to 1.0 when the caller does not.
    private static func commonOptions(_ request: [String: Any], stopMustBeStrings: Bool) throws -> [String: Any] {
        var options: [String: Any] = [:]
        switch request["stop"] {
        case let stop as String:
            options["stop"] = [stop]
        case let stops as [Any]:
            var strings: [String] = []
            for stop in stops {
                if let text = stop as? String {
                    strings.append(text)
                } else if stopMustBeStrings {
                    throw TranslationError("invalid type for 'stop' field: \(goType(stop))")
                }
            }
            options["stop"] = strings
        default:
            break
        }
        if let maxTokens = request["max_tokens"] as? NSNumber { options["num_predict"] = maxTokens }
        options["temperature"] = request["temperature"] as? NSNumber ?? 1.0
        if let seed = request["seed"] as? NSNumber { options["seed"] = seed }
        options["top_p"] = request["top_p"] as? NSNumber ?? 1.0
        return options
    }

    /// The native body with its options, the caller's own Ollama `options` laid over them, and `keep_alive`.
    private static func finished(_ native: [String: Any], options: [String: Any], request: [String: Any]) throws -> Data {
        var native = native
        var options = options
        if let extra = request["options"] as? [String: Any] {
            for (key, value) in extra { options[key] = value }
        }
        native["options"] = options
        if let keepAlive = request["keep_alive"], !(keepAlive is NSNull) { native["keep_alive"] = keepAlive }
        // Unsorted: the box reads fields by name, and sorting costs a locale-aware comparison of every key.
        return try JSONSerialization.data(withJSONObject: native, options: [.withoutEscapingSlashes])
    }

    /// `response_format` as Ollama's `format`: `json_object` is `"json"`, `json_schema` its schema.
    private static func format(_ value: Any?) throws -> Any? {
        guard let format = value as? [String: Any], let type = format["type"] as? String else { return nil }
        switch type.trimmingCharacters(in: .whitespaces).lowercased() {
        case "json_object": return "json"
        case "json_schema": return (format["json_schema"] as? [String: Any])?["schema"]
        default: return nil
        }
    }

    /// `reasoning.effort` or `reasoning_effort` as Ollama's `think`, clamped to Ollama's tiers as its layer does.
    private static func think(_ request: [String: Any]) throws -> Any? {
        let effort = ((request["reasoning"] as? [String: Any])?["effort"] as? String) ?? (request["reasoning_effort"] as? String) ?? ""
        switch effort {
        case "": return nil
        case "none": return false
        case "minimal": return "low"
        case "low", "medium", "high", "max": return effort
        case "xhigh", "ultra": return "max"
        default:
            throw TranslationError(
                #"invalid reasoning value: "\#(effort)" (must be "minimal", "low", "medium", "high", "xhigh", "ultra", "max", or "none")"#
            )
        }
    }

    /// OpenAI's messages as Ollama's: text parts and images become messages of their own, tool calls get their
    /// arguments as objects, and a tool answer gets the name of the call it answers.
    static func nativeMessages(_ messages: [[String: Any]]) throws -> [[String: Any]] {
        var native: [[String: Any]] = []
        for message in messages {
            let role = message["role"] as? String ?? ""
            var toolName = ""
            if role.lowercased() == "tool" {
                toolName = message["name"] as? String ?? ""
                if toolName.isEmpty, let id = message["tool_call_id"] as? String { toolName = name(ofCall: id, in: messages) }
            }
            let calls = try toolCalls(message["tool_calls"])
            var extra: [String: Any] = [:]
            if let calls { extra["tool_calls"] = calls }
            if !toolName.isEmpty { extra["tool_name"] = toolName }
            if let id = message["tool_call_id"] as? String, !id.isEmpty { extra["tool_call_id"] = id }
            if let reasoning = message["reasoning"] as? String, !reasoning.isEmpty { extra["thinking"] = reasoning }
            switch message["content"] {
            case let text as String:
                native.append(["role": role, "content": text].merging(extra) { first, _ in first })
            case let parts as [Any]:
                for part in parts {
                    guard let part = part as? [String: Any] else { throw TranslationError("invalid message format") }
                    switch part["type"] as? String {
                    case "text":
                        guard let text = part["text"] as? String else { throw TranslationError("invalid message format") }
                        native.append(["role": role, "content": text])
                    case "image_url":
                        let url = ((part["image_url"] as? [String: Any])?["url"] as? String) ?? (part["image_url"] as? String)
                        guard let url else { throw TranslationError("invalid message format") }
                        native.append(["role": role, "images": [try imageData(url)]])
                    case "input_audio":
                        guard let audio = part["input_audio"] as? [String: Any] else { throw TranslationError("invalid input_audio format") }
                        guard let data = audio["data"] as? String else { throw TranslationError("invalid input_audio format: missing data") }
                        guard Data(base64Encoded: data) != nil else { throw TranslationError("invalid input_audio base64 data") }
                        native.append(["role": role, "images": [data]])
                    default:
                        throw TranslationError("invalid message format")
                    }
                }
                // The parts may have made several messages: the tool calls go with the last.
                if calls != nil, !native.isEmpty { native[native.count - 1].merge(extra) { _, new in new } }
            default:
                // Content may be left out only beside tool calls.
                guard calls != nil else { throw TranslationError("invalid message content type: \(goType(message["content"]))") }
                native.append(["role": role].merging(extra) { first, _ in first })
            }
        }
        return native
    }

    /// OpenAI's tool calls (arguments as JSON text) as Ollama's (arguments as an object); `nil` when there are none.
    private static func toolCalls(_ value: Any?) throws -> [[String: Any]]? {
        guard let calls = value as? [[String: Any]] else { return nil }
        return try calls.map { call in
            let function = call["function"] as? [String: Any] ?? [:]
            let text = function["arguments"] as? String ?? ""
            guard let arguments = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
                throw TranslationError("invalid tool call arguments")
            }
            var native: [String: Any] = ["function": ["name": function["name"] as? String ?? "", "arguments": arguments]]
            if let id = call["id"] as? String, !id.isEmpty { native["id"] = id }
            return native
        }
    }

    /// The name of the tool call `id` among the assistant's calls, the last one first (as Ollama looks it up).
    private static func name(ofCall id: String, in messages: [[String: Any]]) -> String {
        for message in messages.reversed() {
            for call in (message["tool_calls"] as? [[String: Any]]) ?? [] where call["id"] as? String == id {
                return (call["function"] as? [String: Any])?["name"] as? String ?? ""
            }
        }
        return ""
    }

    /// A `data:` URL's base64 image, as Ollama takes it: jpeg, png or webp, or no media type at all.
    private static func imageData(_ url: String) throws -> String {
        if url.hasPrefix("http://") || url.hasPrefix("https://") {
            throw TranslationError("image URLs are not currently supported, please use base64 encoded data instead")
        }
        let prefixes = ["data:;base64,"] + ["jpeg", "jpg", "png", "webp"].map { "data:image/\($0);base64," }
        guard let prefix = prefixes.first(where: url.hasPrefix) else { throw TranslationError("invalid image input") }
        let data = String(url.dropFirst(prefix.count))
        guard Data(base64Encoded: data) != nil else { throw TranslationError("invalid image input") }
        return data
    }

    /// How Go's `%T` names a decoded JSON value, for the texts Ollama's layer writes.
    private static func goType(_ value: Any?) -> String {
        switch value {
        case nil, is NSNull: "<nil>"
        case is String: "string"
        case let value? where JSONValue.isBool(value): "bool"
        case is NSNumber: "float64"
        case is [Any]: "[]interface {}"
        case is [String: Any]: "map[string]interface {}"
        default: "\(type(of: value))"
        }
    }

    private static func object(_ body: Data) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw TranslationError("invalid request body: the body is not a JSON object")
        }
        return object
    }
}
