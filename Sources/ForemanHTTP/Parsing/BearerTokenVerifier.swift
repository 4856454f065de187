import ForemanEngine
import Crypto
import Foundation

/// Checks `Authorization: Bearer <token>` headers without leaking the token through timing.
///
/// Both sides are hashed first, so the comparison always runs over 32 bytes whatever the lengths,
/// and the loop never exits early.
public struct BearerTokenVerifier: Sendable {
    private let expected: [UInt8]

    public init(token: String) {
        expected = Array(SHA256.hash(data: Array(token.utf8)))
    }

    /// Whether `header` (the raw `Authorization` value) carries the right token.
    public func verify(authorization header: String?) -> Bool {
        guard let header else { return false }
        let scheme = "bearer "
        guard header.count > scheme.count, header.prefix(scheme.count).lowercased() == scheme else { return false }
        return verify(token: header.dropFirst(scheme.count))
    }

    /// Whether `token`, presented bare, is the right one.
    public func verify(token: some StringProtocol) -> Bool {
        verify(hash: KeyRing.hash(token))
    }

    /// Whether a presented token whose SHA-256 is `hash` is the right one.
    public func verify(hash: Data) -> Bool {
        var difference: UInt8 = 0
        for (a, b) in zip(hash, expected) { difference |= a ^ b }
        return difference == 0 && hash.count == expected.count
    }
}
