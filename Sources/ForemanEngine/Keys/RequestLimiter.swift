import ForemanDomain

/// Each key's requests per minute (ADR 0022): a token bucket per key, in memory, holding a minute's allowance and
/// refilled continuously. A restart forgives at most a minute's requests, and a check costs no write.
public actor RequestLimiter {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private var buckets: [String: Bucket] = [:]

    public init() {}

    /// Takes one request from `key`'s allowance; `nil` when it may go ahead, else how long until it may.
    public func admit(_ key: APIKey, now: ContinuousClock.Instant = .now) -> Duration? {
        guard let perMinute = key.requestsPerMinute, perMinute > 0 else { return nil }
        let capacity = Double(perMinute)
        let perSecond = capacity / 60
        var bucket = buckets[key.id] ?? Bucket(tokens: capacity, updated: now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated).seconds * perSecond)
        bucket.updated = now
        defer { buckets[key.id] = bucket }
        guard bucket.tokens >= 1 else { return .seconds((1 - bucket.tokens) / perSecond) }
        bucket.tokens -= 1
        return nil
    }

    /// Forgets `key`'s bucket: its limit changed, or it was revoked.
    public func forget(_ id: String) {
        buckets[id] = nil
    }
}
