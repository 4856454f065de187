import ForemanDomain

/// A key as the keys API shows it; its secret only in the answer that created it.
enum KeyDocument {
    /// - Parameter account: the key's generations queued or running, and its tokens today (UTC), where shown.
    static func render(_ key: APIKey, secret: String? = nil, account: (active: Int, tokensToday: Int)? = nil) -> String {
        var writer = JSONObjectWriter()
        writer.string("id", key.id)
        writer.string("name", key.name)
        writer.raw("scopes", JSONObjectWriter.array(key.scopes.sorted().map { JSONObjectWriter.quoted($0.rawValue) }))
        writer.int("priority_ceiling", key.priorityCeiling)
        writer.int("max_concurrent", key.maxConcurrent)
        writer.int("requests_per_minute", key.requestsPerMinute)
        writer.int("tokens_per_day", key.tokensPerDay)
        writer.date("created_at", key.createdAt)
        writer.date("revoked_at", key.revokedAt)
        if let account {
            writer.int("active_generations", account.active)
            writer.int("tokens_today", account.tokensToday)
        }
        if let secret { writer.string("secret", secret) }
        return writer.finished()
    }
}
