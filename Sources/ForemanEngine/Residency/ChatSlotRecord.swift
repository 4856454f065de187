/// What ``Residency`` knows of its chat slot that decides whether a generation needs a visit before it is sent: the
/// slot's model, when the target was last found holding nothing else, and the `num_ctx` each chat model was last sent
/// with.
struct ChatSlotRecord: Sendable {
    /// The chat slot's model, normalized.
    var model: String?
    /// When `/api/ps` last showed nothing but the two slots' models.
    var verifiedAt: ContinuousClock.Instant?
    /// The `num_ctx` each chat model was last sent with; `nil` when it was sent with none (the model's own).
    var numCtx: [String: Int?] = [:]

    /// What a generation on `name` (normalized) is sent with when preparing it would change nothing: the slot holds
    /// the model, found alone within `trustFor` before `now`, and the request's `num_ctx` is either taken from the
    /// record (`inheriting` and none asked) or the one recorded already. `.some(nil)` sends the request as it is,
    /// `.some(n)` adds `num_ctx` n; `nil` means the preparation has something to do or to record.
    func unchanged(_ name: String, numCtx asked: (asked: Int?, inheriting: Bool)?, now: ContinuousClock.Instant, trustFor: Duration) -> Int?? {
        guard holds(name, now: now, trustFor: trustFor) else { return nil }
        guard let asked else { return .some(nil) }
        if asked.asked == nil, asked.inheriting { return .some(numCtx[name] ?? nil) }
        return numCtx[name] == .some(asked.asked) ? .some(nil) : nil
    }

    /// Whether the slot holds `name` (normalized), found alone within `trustFor` before `now`: nothing to check.
    func holds(_ name: String, now: ContinuousClock.Instant, trustFor: Duration) -> Bool {
        guard model == name, let verifiedAt else { return false }
        return now - verifiedAt < trustFor
    }

    /// Records the `num_ctx` a generation on `name` (normalized) is sent with, `asked`, and returns the one to add
    /// instead of none: a request that sets none and is `inheriting` (an OpenAI call, ADR 0019) takes the one the
    /// model was last sent with, and records nothing; a native call keeps Ollama's behaviour, the model's own.
    mutating func sending(_ name: String, asked: Int?, inheriting: Bool) -> Int? {
        if asked == nil, inheriting { return numCtx[name] ?? nil }
        numCtx[name] = .some(asked)
        return nil
    }
}
