import ForemanDomain

/// Usage as the engine and the admin API read it (ADR 0022). Calls add to it as they end: a job in the transaction
/// that finishes it, a native call with its row written behind, an embeddings call through
/// ``JobStore/writeUsageBehind(_:)``. ``SQLiteJobStore`` is the implementation.
public protocol UsageStore: Sendable {
    /// The rows from day `from` to day `to` (both included, either open), of key `keyID` or of every key; by day,
    /// then key, then model.
    func usage(from: UTCDay?, to: UTCDay?, keyID: String?) async throws -> [UsageRow]
    /// Each key's prompt and generated tokens on `day`, by key id.
    func tokensUsed(on day: UTCDay) async throws -> [String: Int]
    /// Each key's generations queued or running in the store, by key id: `/jobs` generations, the ones a key's
    /// concurrency cap counts (batch lines do not count, and native calls are not in the store while they run).
    func activeGenerations() async throws -> [String: Int]
}
