import Crypto
import Foundation

/// How an idempotency key remembers what it was used with: SHA-256 (hex) of the body in canonical form.
///
/// Canonical means parsed and re-encoded with sorted keys, so a client that re-serialises the same object
/// with its keys in another order or other spacing is still sending "the same body".
public enum RequestFingerprint {
    public static func of(_ body: Data) -> String {
        let canonical = (try? JSONSerialization.jsonObject(with: body))
            .flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) } ?? body
        return SHA256.hash(data: canonical).map { String(format: "%02x", $0) }.joined()
    }
}
