import Crypto
import ForemanDomain
import ForemanStore
import Foundation

/// The keys, held in memory (ADR 0022): whose a presented secret is, in one dictionary look-up, and the admin verbs,
/// each written to the store before memory changes. Keys are few; all of them are loaded at startup.
public actor KeyRing {
    let store: any KeyStore
    /// Told each key's name, the label of its usage series.
    let ledger: KeyLedger?
    /// Live keys by the SHA-256 of their secret.
    private var live: [SecretHash: APIKey] = [:]
    /// Every key, revoked ones included, by id, with its hash.
    private var all: [String: (key: APIKey, hash: SecretHash)] = [:]

    public init(store: any KeyStore, ledger: KeyLedger? = nil) {
        self.store = store
        self.ledger = ledger
    }

    /// Reads every key from the store.
    public func load() async throws {
        live = [:]
        all = [:]
        for (key, bytes) in try await store.keys() {
            guard let hash = SecretHash(bytes: bytes) else { continue }
            remember(key, hash: hash)
        }
    }

    /// The SHA-256 of a presented secret: what keys are found by, and what the bootstrap token is compared as.
    public nonisolated static func hash(_ secret: some StringProtocol) -> SecretHash {
        SecretHash(of: secret)
    }

    /// The live key whose secret hashes to `hash`.
    public func key(hash: SecretHash) -> APIKey? { live[hash] }

    /// Every key, revoked ones included, oldest first.
    public func keys() -> [APIKey] {
        all.values.map(\.key).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    public func key(id: String) -> APIKey? { all[id]?.key }

    /// Stores `key` with a new secret, and returns the secret: the only time it is shown.
    ///
    /// - Throws: ``KeyStoreError/nameTaken(_:)``.
    public func create(_ key: APIKey) async throws -> String {
        let secret = Self.makeSecret()
        let hash = Self.hash(secret)
        try await store.insertKey(key, secretHash: hash.bytes)
        remember(key, hash: hash)
        return secret
    }

    /// Replaces key `key.id`'s name, scopes and limits.
    public func update(_ key: APIKey) async throws -> APIKey? {
        guard let stored = try await store.updateKey(key), let hash = all[key.id]?.hash else { return nil }
        remember(stored, hash: hash)
        return stored
    }

    /// Revokes key `id`: from the moment this returns, its secret finds nothing.
    public func revoke(id: String) async throws -> APIKey? {
        guard let revoked = try await store.revokeKey(id: id, now: Date()), let hash = all[id]?.hash else { return nil }
        remember(revoked, hash: hash)
        return revoked
    }

    private func remember(_ key: APIKey, hash: SecretHash) {
        all[key.id] = (key, hash)
        live[hash] = key.revokedAt == nil ? key : nil
        ledger?.name(key.id, key.revokedAt == nil ? key.name : nil)
    }

    /// `fk_` and 32 characters of Crockford's base 32 in lowercase: 160 random bits.
    static func makeSecret() -> String {
        let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")
        var generator = SystemRandomNumberGenerator()
        return "fk_" + String((0..<32).map { _ in alphabet[Int(generator.next(upperBound: UInt8(32)))] })
    }
}
