import Crypto
import Foundation

/// Signs webhook deliveries per the Standard Webhooks specification (scheme `v1`, HMAC-SHA256).
///
/// The secret is shown to users as `whsec_` + base64; the HMAC key is the decoded bytes. The signed content is
/// `"<webhook-id>.<webhook-timestamp>.<body>"`, over the exact body bytes sent.
public struct WebhookSigner: Sendable {
    private let key: SymmetricKey

    /// - Throws: ``WebhookSecretError`` unless `secret` is `whsec_` followed by valid base64.
    public init(secret: String) throws(WebhookSecretError) {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst("whsec_".count)) : secret
        guard let bytes = Data(base64Encoded: encoded), !bytes.isEmpty else { throw WebhookSecretError() }
        key = SymmetricKey(data: bytes)
    }

    /// The `webhook-signature` header value for one attempt.
    public func signature(id: String, timestamp: Int, body: Data) -> String {
        var content = Data("\(id).\(timestamp).".utf8)
        content.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: key)
        return "v1," + Data(mac).base64EncodedString()
    }
}

/// `FOREMAN_WEBHOOK_SECRET` is not `whsec_` + base64.
public struct WebhookSecretError: Error, CustomStringConvertible {
    public var description: String { "expected whsec_ followed by base64 (for example whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw)" }
}
