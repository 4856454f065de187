import ForemanEngine

/// Checks `Authorization: Bearer <token>` headers without leaking the token through timing.
///
/// Both sides are hashed first, so the comparison always runs over 32 bytes whatever the lengths, and it never
/// stops early (``SecretHash/matches(_:)``).
public struct BearerTokenVerifier: Sendable {
    private let expected: SecretHash

    public init(token: String) {
        expected = KeyRing.hash(token)
    }

    /// Whether `header` (the raw `Authorization` value) carries the right token.
    public func verify(authorization header: String?) -> Bool {
        guard let header, let token = Self.token(in: header) else { return false }
        return verify(token: token)
    }

    /// The token of an `Authorization` value in the `Bearer` scheme (any case), if it has one. The scheme is
    /// compared as bytes: counting or lowercasing the header's characters is Unicode work on every request.
    static func token(in header: String) -> Substring? {
        let scheme = "bearer ".utf8
        let bytes = header.utf8
        guard bytes.count > scheme.count, zip(bytes, scheme).allSatisfy({ $0 == $1 || ($1 != UInt8(ascii: " ") && $0 | 0x20 == $1) }) else { return nil }
        return header[bytes.index(bytes.startIndex, offsetBy: scheme.count)...]
    }

    /// Whether `token`, presented bare, is the right one.
    public func verify(token: some StringProtocol) -> Bool {
        verify(hash: KeyRing.hash(token))
    }

    /// Whether a presented token whose SHA-256 is `hash` is the right one.
    public func verify(hash: SecretHash) -> Bool {
        hash.matches(expected)
    }
}
