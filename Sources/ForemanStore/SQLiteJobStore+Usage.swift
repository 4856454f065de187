import ForemanDomain
import Foundation
import GRDB

/// The `usage` table (ADR 0022).
extension SQLiteJobStore: UsageStore {
    /// Takes an embeddings call's usage, to be committed with the next rows written behind (ADR 0016): the call has
    /// no row of its own, and its usage is worth no commit of its own either.
    public func writeUsageBehind(_ row: UsageRow) {
        usageBehind.append(row)
        behindHanded()
    }

    public nonisolated func usage(from: UTCDay?, to: UTCDay?, keyID: String?) async throws -> [UsageRow] {
        await settleWritesBehind()
        var conditions: [String] = []
        var values: [String] = []
        if let from {
            conditions.append("day >= ?")
            values.append(from.text)
        }
        if let to {
            conditions.append("day <= ?")
            values.append(to.text)
        }
        if let keyID {
            conditions.append("key_id = ?")
            values.append(keyID)
        }
        let arguments = values
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        return try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM usage" + filter + " ORDER BY day, key_id, model", arguments: StatementArguments(arguments)).compactMap { row in
                guard let day = UTCDay(text: row["day"] as String) else { return nil }
                return UsageRow(
                    keyID: row["key_id"], model: row["model"], day: day, requests: row["requests"], promptTokens: row["prompt_tokens"],
                    generatedTokens: row["generated_tokens"], generationSeconds: row["generation_seconds"]
                )
            }
        }
    }

    public nonisolated func tokensUsed(on day: UTCDay) async throws -> [String: Int] {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT key_id, SUM(prompt_tokens + generated_tokens) AS tokens FROM usage WHERE day = ? GROUP BY key_id", arguments: [day.text]
            )
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["key_id"] as String, $0["tokens"] as Int) })
        }
    }

    public nonisolated func activeGenerations() async throws -> [String: Int] {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT owner, COUNT(*) AS active FROM job
                    WHERE owner IS NOT NULL AND origin = 'jobs' AND kind != 'embed' AND state IN ('queued', 'running') GROUP BY owner
                    """
            )
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["owner"] as String, $0["active"] as Int) })
        }
    }

    /// Adds `row` to its key's, model's and day's totals.
    static func add(_ db: Database, _ row: UsageRow) throws {
        try db.cachedStatement(sql: """
            INSERT INTO usage (key_id, model, day, requests, prompt_tokens, generated_tokens, generation_seconds) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (key_id, model, day) DO UPDATE SET
                requests = requests + excluded.requests, prompt_tokens = prompt_tokens + excluded.prompt_tokens,
                generated_tokens = generated_tokens + excluded.generated_tokens,
                generation_seconds = generation_seconds + excluded.generation_seconds
            """).execute(arguments: [row.keyID, row.model, row.day.text, row.requests, row.promptTokens, row.generatedTokens, row.generationSeconds])
    }
}
