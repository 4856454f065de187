import Synchronization

/// What monitors read about the store without waiting for it: the queue depth and whether writes are failing.
///
/// `/healthz` must answer while a write waits for another process's lock or a full disk, so these figures live in
/// atomics the store sets after each write, not behind the store's actor.
public final class StoreHealth: Sendable {
    private let depth = Atomic<Int>(0)
    /// The `StoreFailure` of the last write, or -1 when it succeeded.
    private let failureCode = Atomic<Int>(-1)

    public init() {}

    /// How many jobs are waiting to run, as of the last committed write.
    public var queueDepth: Int { depth.load(ordering: .relaxed) }

    /// Why the last write failed, or `nil` when it succeeded.
    public var failure: StoreFailure? {
        let code = failureCode.load(ordering: .relaxed)
        return code < 0 ? nil : StoreFailure.allCases[code]
    }

    func setQueueDepth(_ value: Int) {
        depth.store(value, ordering: .relaxed)
    }

    func setFailure(_ failure: StoreFailure?) {
        failureCode.store(failure.flatMap { StoreFailure.allCases.firstIndex(of: $0) } ?? -1, ordering: .relaxed)
    }
}
