import Foundation
import NIOCore

/// A validated `POST /jobs` body.
public struct JobSubmission: Sendable {
    public var kind: JobKind
    /// The native request, byte for byte as the caller wrote it.
    public var request: Data
    public var native: NativeRequest
    public var stateWebhookURL: String?
    public var priority: Int
    /// The caller's metadata object, byte for byte.
    public var metadata: String?

    /// Validates `body`; the inner request is checked exactly as its native endpoint would check it.
    public static func parse(_ body: ByteBuffer) throws(RequestError) -> JobSubmission {
        let data = Data(body.readableBytesView)
        let object = try NativeRequest.jsonObject(body)
        guard let kindName = object["kind"] as? String, let kind = JobKind(rawValue: kindName) else {
            throw RequestError(status: 400, message: "invalid request body: field 'kind' must be one of chat, generate, embed")
        }
        guard let requestObject = object["request"] as? [String: Any] else {
            throw RequestError(status: 400, message: "invalid request body: field 'request' must be an object (the native Ollama request body)")
        }
        var url: String?
        if let value = object["state_webhook_url"], !(value is NSNull) {
            guard let text = value as? String, let parsed = URL(string: text), let scheme = parsed.scheme?.lowercased(),
                scheme == "http" || scheme == "https", parsed.host?.isEmpty == false
            else {
                throw RequestError(status: 400, message: "invalid request body: field 'state_webhook_url' must be an http:// or https:// URL")
            }
            url = text
        }
        var priority = 0
        if let value = object["priority"], !(value is NSNull) {
            guard JSONValue.isNumber(value), let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded(),
                abs(number.doubleValue) <= 1_000_000
            else {
                throw RequestError(status: 400, message: "invalid request body: field 'priority' must be a whole number")
            }
            priority = number.intValue
        }
        if let value = object["metadata"], !(value is NSNull), !(value is [String: Any]) {
            throw RequestError(status: 400, message: "invalid request body: field 'metadata' must be an object")
        }
        let raw = RawJSONFields.extract(["request", "metadata"], from: data)
        let request = raw["request"] ?? Data()
        let endpoint: NativeRequest.Endpoint = switch kind {
        case .chat: .chat
        case .generate: .generate
        case .embed: .embed
        }
        let native = try NativeRequest.parse(endpoint, object: requestObject)
        let metadata = object["metadata"] is [String: Any] ? raw["metadata"].map { String(decoding: $0, as: UTF8.self) } : nil
        return JobSubmission(kind: kind, request: request, native: native, stateWebhookURL: url, priority: priority, metadata: metadata)
    }
}
