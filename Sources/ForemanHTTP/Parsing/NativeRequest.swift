import ForemanEngine
import ForemanDomain
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
        // Plain JSON (nearly every request) is read in one pass; the rest goes through Foundation (ADR 0011).
        if let shape = body.withUnsafeReadableBytes({ JSONShape.scan($0) }) {
            return try parse(endpoint, fields: shape.fields)
        }
        return try parse(endpoint, object: try jsonObject(body))
    }

    /// Validates a body already parsed into `object` for `endpoint`.
    static func parse(_ endpoint: Endpoint, object: [String: Any]) throws(RequestError) -> NativeRequest {
        try parse(endpoint, fields: object.mapValues(JSONShape.Field.init(foundation:)))
    }

    /// Validates a body's top-level fields for `endpoint`: the one check both readings of a body go through.
    static func parse(_ endpoint: Endpoint, fields: [String: JSONShape.Field]) throws(RequestError) -> NativeRequest {
        var modelField = fields["model"]
        if endpoint == .show, modelField == nil || modelField?.kind == .null { modelField = fields["name"] }
        let model: String
        switch modelField?.kind {
        case nil, .null: model = ""
        case .string: model = ModelName.trimmed(modelField?.text ?? "")
        default: throw RequestError.wrongType("model", expected: "a string")
        }
        if model.isEmpty {
            switch endpoint {
            case .generate, .embed: throw RequestError(status: 404, message: "model '' not found")
            case .chat, .embeddings, .show: throw RequestError(status: 400, message: "model is required")
            }
        }

        try check(fields, "stream", is: "a boolean") { $0.kind == .bool }
        try check(fields, "options", is: "an object") { $0.kind == .object }
        try check(fields, "keep_alive", is: "a number or a duration string") { $0.kind == .string || $0.kind == .number }
        switch endpoint {
        case .chat:
            try check(fields, "messages", is: "an array of message objects") { $0.kind == .array && $0.elements.isSubset(of: [.object]) }
            try check(fields, "tools", is: "an array") { $0.kind == .array }
        case .generate:
            try check(fields, "prompt", is: "a string") { $0.kind == .string }
            try check(fields, "system", is: "a string") { $0.kind == .string }
            try check(fields, "images", is: "an array of strings") { $0.kind == .array && $0.elements.isSubset(of: [.string]) }
        case .embed:
            if let input = fields["input"], input.kind != .null {
                let valid = input.kind == .string || (input.kind == .array && input.elements.isSubset(of: [.string]))
                guard valid else { throw RequestError(status: 400, message: "invalid input type") }
            }
        case .embeddings:
            try check(fields, "prompt", is: "a string") { $0.kind == .string }
        case .show:
            break
        }
        let stream = fields["stream"].map { $0.kind != .bool || $0.text == "true" } ?? true
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
        _ fields: [String: JSONShape.Field],
        _ field: String,
        is expected: String,
        _ valid: (JSONShape.Field) -> Bool
    ) throws(RequestError) {
        guard let value = fields[field], value.kind != .null else { return }
        guard valid(value) else { throw RequestError.wrongType(field, expected: expected) }
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

extension JSONShape.Field {
    /// What ``JSONShape`` would say of a value `JSONSerialization` produced.
    init(foundation value: Any) {
        switch value {
        case let text as String: self.init(kind: .string, text: text)
        case is NSNull: self.init(kind: .null, text: "null")
        case _ where JSONValue.isBool(value): self.init(kind: .bool, text: (value as? NSNumber)?.boolValue == true ? "true" : "false")
        case is NSNumber: self.init(kind: .number, text: (value as? NSNumber)?.stringValue)
        case is [String: Any]: self.init(kind: .object)
        case let array as [Any]: self.init(kind: .array, elements: Set(array.map { JSONShape.Field(foundation: $0).kind }))
        default: self.init(kind: .null)
        }
    }
}
