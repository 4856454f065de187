import ForemanDomain
import Foundation
import GRDB

/// The keys' rows (ADR 0022).
extension SQLiteJobStore: KeyStore {
    public nonisolated func insertKey(_ key: APIKey, secretHash: [UInt8]) async throws {
        try await writeDurably { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM api_key WHERE name = ?)", arguments: [key.name]) != true else {
                throw KeyStoreError.nameTaken(key.name)
            }
            try db.execute(
                sql: """
                    INSERT INTO api_key (id, name, secret_hash, scopes, priority_ceiling, max_concurrent, requests_per_minute, tokens_per_day, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    key.id, key.name, Data(secretHash), Self.scopes(key.scopes), key.priorityCeiling, key.maxConcurrent, key.requestsPerMinute,
                    key.tokensPerDay, DatabaseDate.storage(key.createdAt),
                ]
            )
        }
    }

    public nonisolated func keys() async throws -> [(key: APIKey, secretHash: [UInt8])] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_key ORDER BY created_at, id").map { row in (try APIKey(row: row), [UInt8](row["secret_hash"] as Data)) }
        }
    }

    public nonisolated func updateKey(_ key: APIKey) async throws -> APIKey? {
        try await writeDurably { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM api_key WHERE name = ? AND id != ?)", arguments: [key.name, key.id]) != true else {
                throw KeyStoreError.nameTaken(key.name)
            }
            return try Row.fetchOne(
                db,
                sql: """
                    UPDATE api_key SET name = ?, scopes = ?, priority_ceiling = ?, max_concurrent = ?, requests_per_minute = ?, tokens_per_day = ?
                    WHERE id = ? RETURNING *
                    """,
                arguments: [key.name, Self.scopes(key.scopes), key.priorityCeiling, key.maxConcurrent, key.requestsPerMinute, key.tokensPerDay, key.id]
            ).map(APIKey.init(row:))
        }
    }

    public nonisolated func revokeKey(id: String, now: Date) async throws -> APIKey? {
        try await writeDurably { db in
            try db.execute(sql: "UPDATE api_key SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [DatabaseDate.storage(now), id])
            return try Row.fetchOne(db, sql: "SELECT * FROM api_key WHERE id = ?", arguments: [id]).map(APIKey.init(row:))
        }
    }

    private static func scopes(_ scopes: Set<APIKey.Scope>) -> String {
        scopes.sorted().map(\.rawValue).joined(separator: ",")
    }
}

extension APIKey {
    init(row: Row) throws {
        guard let created = DatabaseDate.date(row["created_at"]) else { throw StoredJobError(column: "api_key", value: "\(row)") }
        let scopes = ((row["scopes"] as String?) ?? "").split(separator: ",").compactMap { Scope(rawValue: String($0)) }
        self.init(
            id: row["id"], name: row["name"], scopes: Set(scopes), priorityCeiling: row["priority_ceiling"], maxConcurrent: row["max_concurrent"],
            requestsPerMinute: row["requests_per_minute"], tokensPerDay: row["tokens_per_day"], createdAt: created,
            revokedAt: (row["revoked_at"] as String?).flatMap(DatabaseDate.date)
        )
    }
}
