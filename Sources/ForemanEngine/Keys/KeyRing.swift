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
    private var live: [Data: APIKey] = [:]
    /// Every key, revoked ones included, by id, with its hash.
    private var all: [String: (key: APIKey, hash: Data)] = [:]

    public init(store: any KeyStore, ledger: KeyLedger? = nil) {
        self.store = store
        self.ledger = ledger
    }

    /// Reads every key from the store.
    public func load() async throws {
        live = [:]
        all = [:]
        for (key, hash) in try await store.keys() { remember(key, hash: Data(hash)) }
    }

    /// The SHA-256 of a presented secret: what keys are found by, and what the bootstrap token is compared as.
    public nonisolated static func hash(_ secret: some StringProtocol) -> Data {
        let digest = secret.utf8.withContiguousStorageIfAvailable { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        return Data(digest ?? SHA256.hash(data: Array(secret.utf8)))
    }

    /// The live key whose secret hashes to `hash`.
    public func key(hash: Data) -> APIKey? { live[hash] }

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
        try await store.insertKey(key, secretHash: [UInt8](hash))
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

    private func remember(_ key: APIKey, hash: Data) {
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
