import Foundation
import NIOCore

/// What foreman reads from a native Ollama request body before queueing or forwarding it.
///
/// foreman forwards the caller's bytes untouched; it parses them only to find the model, the stream
/// mode, and to reject shapes Ollama would reject, with Ollama's own error texts where it has one.
public struct NativeRequest: Sendable, Equatable {
    /// The endpoints whose bodies foreman understands.
    public enum Endpoint: String, Sendable {
        case chat = "/api/chat"
        case generate = "/api/generate"
        case embed = "/api/embed"
        case embeddings = "/api/embeddings"
        case show = "/api/show"
    }

    public var model: String
    /// `stream` absent or true means streaming (Ollama's default); embeddings never stream.
    public var stream: Bool

    /// Validates `body` for `endpoint`.
    ///
    /// - Throws: ``RequestError`` with the status and message Ollama would answer.
    public static func parse(_ endpoint: Endpoint, body: ByteBuffer) throws(RequestError) -> NativeRequest {
        try parse(endpoint, object: try jsonObject(body))
    }

    /// Validates a body already parsed into `object` for `endpoint`.
    static func parse(_ endpoint: Endpoint, object: [String: Any]) throws(RequestError) -> NativeRequest {
        var modelValue = object["model"]
        if endpoint == .show, modelValue == nil || modelValue is NSNull { modelValue = object["name"] }
        let model: String
        switch modelValue {
        case nil, is NSNull: model = ""
        case let text as String: model = trimmed(text)
        default: throw RequestError.wrongType("model", expected: "a string")
        }
        if model.isEmpty {
            switch endpoint {
            case .generate, .embed: throw RequestError(status: 404, message: "model '' not found")
            case .chat, .embeddings, .show: throw RequestError(status: 400, message: "model is required")
            }
        }

        try check(object, "stream", is: "a boolean") { JSONValue.isBool($0) }
        try check(object, "options", is: "an object") { $0 is [String: Any] }
        try check(object, "keep_alive", is: "a number or a duration string") { $0 is String || JSONValue.isNumber($0) }
        switch endpoint {
        case .chat:
            try check(object, "messages", is: "an array of message objects") { value in
                (value as? [Any])?.allSatisfy { $0 is [String: Any] } ?? false
            }
            try check(object, "tools", is: "an array") { $0 is [Any] }
        case .generate:
            try check(object, "prompt", is: "a string") { $0 is String }
            try check(object, "system", is: "a string") { $0 is String }
            try check(object, "images", is: "an array of strings") { ($0 as? [Any])?.allSatisfy { $0 is String } ?? false }
        case .embed:
            if let input = object["input"], !(input is NSNull) {
                let valid = input is String || ((input as? [Any])?.allSatisfy { $0 is String } ?? false)
                guard valid else { throw RequestError(status: 400, message: "invalid input type") }
            }
        case .embeddings:
            try check(object, "prompt", is: "a string") { $0 is String }
        case .show:
            break
        }
        let stream = (object["stream"] as? NSNumber)?.boolValue ?? true
        return NativeRequest(model: model, stream: endpoint == .chat || endpoint == .generate ? stream : false)
    }

    /// Parses a request body that must be a JSON object, with the error texts every endpoint shares.
    static func jsonObject(_ body: ByteBuffer) throws(RequestError) -> [String: Any] {
        guard body.readableBytes > 0 else { throw RequestError(status: 400, message: "missing request body") }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(body.readableBytesView))
        } catch {
            throw RequestError(status: 400, message: "invalid JSON in request body: \(describe(error))")
        }
        guard let object = parsed as? [String: Any] else {
            throw RequestError(status: 400, message: "invalid request body: expected a JSON object")
        }
        return object
    }

    private static func check(
        _ object: [String: Any],
        _ field: String,
        is expected: String,
        _ valid: (Any) -> Bool
    ) throws(RequestError) {
        guard let value = object[field], !(value is NSNull) else { return }
        guard valid(value) else { throw RequestError.wrongType(field, expected: expected) }
    }

    /// `text` without leading and trailing `.whitespaces`; a name with none (nearly all) is returned as it is,
    /// since Foundation's trimming went through `NSString` on every call (ADR 0011).
    static func trimmed(_ text: String) -> String {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
            CharacterSet.whitespaces.contains(first) || CharacterSet.whitespaces.contains(last)
        else { return text }
        return text.trimmingCharacters(in: .whitespaces)
    }

    private static func describe(_ error: any Error) -> String {
        let nsError = error as NSError
        return (nsError.userInfo[NSDebugDescriptionErrorKey] as? String) ?? nsError.localizedDescription
    }
}

/// A request foreman refuses, with the HTTP status and the `error` text to answer it with.
public struct RequestError: Error, Equatable, CustomStringConvertible {
    public var status: Int
    public var message: String

    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    static func wrongType(_ field: String, expected: String) -> RequestError {
        RequestError(status: 400, message: "invalid request body: field '\(field)' must be \(expected)")
    }

    public var description: String { "\(status): \(message)" }
}

/// Type tests for `JSONSerialization` values that hold on Linux too, where every `NSNumber` also casts to `Bool`.
enum JSONValue {
    private static let booleanType = type(of: NSNumber(value: true))

    static func isBool(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return type(of: number) == booleanType
    }

    static func isNumber(_ value: Any) -> Bool {
        value is NSNumber && !isBool(value)
    }
}
