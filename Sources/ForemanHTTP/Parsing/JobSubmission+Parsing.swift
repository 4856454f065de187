import ForemanDomain
import ForemanEngine
import Foundation
import NIOCore

extension JobSubmission {
    /// Validates `body`; the inner request is checked exactly as its native endpoint would check it.
    public static func parse(_ body: ByteBuffer, webhooks: WebhookAddressPolicy = WebhookAddressPolicy()) throws(RequestError) -> JobSubmission {
        let bytes = Array(body.readableBytesView)
        // Plain JSON (nearly every submission) is read in one pass, the inner request in a second; the rest goes
        // through Foundation, as native bodies do (ADR 0011, ADR 0012).
        if let shape = bytes.withUnsafeBytes({ JSONShape.scan($0) }) {
            let request = shape.fields["request"]
            let requestFields = request.flatMap { field in
                field.kind == .object ? field.range.flatMap { range in bytes[range].withUnsafeBytes { JSONShape.scan($0) } }?.fields : nil
            }
            if request?.kind != .object || requestFields != nil {
                return try parse(shape.fields, requestFields: requestFields, webhooks: webhooks) { key in shape.fields[key]?.range.map { Data(bytes[$0]) } }
            }
        }
        return try parseThroughFoundation(bytes, webhooks: webhooks)
    }

    /// Validates `bytes` read by `JSONSerialization`: the reading every body had before ``JSONShape``, and the one
    /// the shortcut must agree with.
    static func parseThroughFoundation(_ bytes: [UInt8], webhooks: WebhookAddressPolicy = WebhookAddressPolicy()) throws(RequestError) -> JobSubmission {
        let object = try NativeRequest.jsonObject(ByteBuffer(bytes: bytes))
        let ranges = RawJSONFields.ranges(["request", "metadata"], in: bytes)
        return try parse(
            object.mapValues(JSONShape.Field.init(foundation:)),
            requestFields: (object["request"] as? [String: Any])?.mapValues(JSONShape.Field.init(foundation:)),
            webhooks: webhooks
        ) { key in ranges[key].map { Data(bytes[$0]) } }
    }

    /// The checks, in order, on the body's top-level fields; `requestFields` are the inner request's, when it is an
    /// object, and `raw` gives a field's bytes as the caller wrote them.
    private static func parse(
        _ fields: [String: JSONShape.Field],
        requestFields: [String: JSONShape.Field]?,
        webhooks: WebhookAddressPolicy,
        raw: (String) -> Data?
    ) throws(RequestError) -> JobSubmission {
        guard let kindField = fields["kind"], kindField.kind == .string, let kind = kindField.text.flatMap(JobKind.init(rawValue:)),
            JobKind.submittable.contains(kind)
        else {
            throw RequestError(status: 400, message: "invalid request body: field 'kind' must be one of chat, generate, embed")
        }
        guard fields["request"]?.kind == .object, let requestFields else {
            throw RequestError(status: 400, message: "invalid request body: field 'request' must be an object (the native Ollama request body)")
        }
        var url: String?
        if let value = fields["state_webhook_url"], value.kind != .null {
            guard value.kind == .string, let text = value.text else {
                throw RequestError(status: 400, message: "invalid request body: field 'state_webhook_url' must be an http:// or https:// URL")
            }
            switch webhooks.problem(url: text) {
            case .notHTTP:
                throw RequestError(status: 400, message: "invalid request body: field 'state_webhook_url' must be an http:// or https:// URL")
            case .refused(let refusal):
                throw RequestError(status: 400, message: "invalid request body: field 'state_webhook_url' is refused: \(refusal) (FOREMAN_WEBHOOK_ALLOW_LINK_LOCAL=1 allows it)")
            case nil:
                url = text
            }
        }
        var priority = 0
        if let value = fields["priority"], value.kind != .null {
            guard value.kind == .number, let number = value.text.flatMap(Double.init), number == number.rounded(), abs(number) <= 1_000_000 else {
                throw RequestError(status: 400, message: "invalid request body: field 'priority' must be a whole number")
            }
            priority = Int(number)
        }
        let metadataKind = fields["metadata"]?.kind
        if let metadataKind, metadataKind != .null, metadataKind != .object {
            throw RequestError(status: 400, message: "invalid request body: field 'metadata' must be an object")
        }
        let endpoint: NativeRequest.Endpoint = switch kind {
        case .chat: .chat
        case .generate: .generate
        case .embed: .embed
        case .messages, .responses: throw RequestError(status: 400, message: "invalid request body: field 'kind' must be one of chat, generate, embed")
        }
        let native = try NativeRequest.parse(endpoint, fields: requestFields)
        let metadata = metadataKind == .object ? raw("metadata").map { String(decoding: $0, as: UTF8.self) } : nil
        return JobSubmission(
            kind: kind, request: raw("request") ?? Data(), model: native.model, stream: native.stream, stateWebhookURL: url, priority: priority,
            metadata: metadata
        )
    }
}
