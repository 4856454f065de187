/// What startup recovery did.
public struct StoreRecovery: Sendable, Equatable {
    /// Native jobs failed because their callers died with the previous process.
    public var failedNative = 0
    /// `/jobs` jobs that were running and went back to the queue.
    public var requeued = 0
    /// `/jobs` jobs that ran out of attempts.
    public var exhausted = 0

    public init() {}
}
