import Crypto

/// The SHA-256 of a presented secret, held as four words: what keys are found by, and what the bootstrap token is
/// compared as.
///
/// Words rather than `Data`: the check runs on every authenticated request, where building, hashing and comparing a
/// `Data` went byte by byte through generic code (ADR 0035).
public struct SecretHash: Hashable, Sendable {
    private let words: (UInt64, UInt64, UInt64, UInt64)

    /// The hash of `secret`'s UTF-8 bytes.
    public init(of secret: some StringProtocol) {
        let digest = secret.utf8.withContiguousStorageIfAvailable { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        self.init(digest ?? SHA256.hash(data: Array(secret.utf8)))
    }

    /// A hash as the store keeps it; `nil` unless it is 32 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        words = bytes.withUnsafeBytes { Self.words(of: $0) }
    }

    private init(_ digest: SHA256.Digest) {
        words = digest.withUnsafeBytes { Self.words(of: $0) }
    }

    private static func words(of bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64, UInt64, UInt64) {
        (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
         bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// The 32 bytes, in the digest's order.
    public var bytes: [UInt8] {
        withUnsafeBytes(of: words) { Array($0) }
    }

    /// Whether the two are equal, in a time that does not depend on where they differ: a secret's hash compared with
    /// the bootstrap token's must not tell a caller how much of it was right.
    public func matches(_ other: SecretHash) -> Bool {
        (words.0 ^ other.words.0) | (words.1 ^ other.words.1) | (words.2 ^ other.words.2) | (words.3 ^ other.words.3) == 0
    }

    public static func == (lhs: SecretHash, rhs: SecretHash) -> Bool {
        lhs.matches(rhs)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}
