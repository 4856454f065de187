import ForemanDomain
import Foundation

/// Keys as the engine sees them (ADR 0022): created with the hash of their secret, read all at once (keys are few),
/// changed, and revoked. ``SQLiteJobStore`` is the implementation.
public protocol KeyStore: Sendable {
    /// Persists `key` with the SHA-256 of its secret. Throws ``KeyStoreError/nameTaken`` for a name in use.
    func insertKey(_ key: APIKey, secretHash: [UInt8]) async throws
    /// Every key, revoked ones included, with the hash of its secret, oldest first.
    func keys() async throws -> [(key: APIKey, secretHash: [UInt8])]
    /// Replaces key `key.id`'s name, scopes and limits; the key as stored, or `nil` when there is none.
    func updateKey(_ key: APIKey) async throws -> APIKey?
    /// Marks key `id` revoked at `now` (once); the key as stored, or `nil` when there is none.
    func revokeKey(id: String, now: Date) async throws -> APIKey?
}

/// Why the store refused a key.
public enum KeyStoreError: Error, Equatable {
    /// Another key has the name.
    case nameTaken(String)
}
