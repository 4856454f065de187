import ForemanDomain
import Synchronization

/// What the store's readers see without waiting for it: the queue depth, the top priority queued in each lane, and
/// whether writes are failing.
///
/// `/healthz` must answer while a write waits for another process's lock or a full disk, and a native call decides
/// whether a `/jobs` job outranks it without a read (ADR 0016), so these figures live in atomics the store sets after
/// each write, not behind the store's actor.
public final class StoreHealth: Sendable {
    private let depth = Atomic<Int>(0)
    private let topGeneration = Atomic<Int>(.min)
    private let topEmbeddings = Atomic<Int>(.min)
    /// The `StoreFailure` of the last write, or -1 when it succeeded.
    private let failureCode = Atomic<Int>(-1)

    public init() {}

    /// How many jobs are waiting to run, as of the last committed write.
    public var queueDepth: Int { depth.load(ordering: .relaxed) }

    /// The highest priority of a job queued in `lane`, as of the last committed write; `nil` when none is.
    public func highestQueuedPriority(in lane: JobLane) -> Int? {
        let value = lane == .generation ? topGeneration.load(ordering: .relaxed) : topEmbeddings.load(ordering: .relaxed)
        return value == .min ? nil : value
    }

    /// Why the last write failed, or `nil` when it succeeded.
    public var failure: StoreFailure? {
        let code = failureCode.load(ordering: .relaxed)
        return code < 0 ? nil : StoreFailure.allCases[code]
    }

    func setQueueDepth(_ value: Int) {
        depth.store(value, ordering: .relaxed)
    }

    func setHighestQueuedPriority(_ priority: Int?, in lane: JobLane) {
        if lane == .generation {
            topGeneration.store(priority ?? .min, ordering: .relaxed)
        } else {
            topEmbeddings.store(priority ?? .min, ordering: .relaxed)
        }
    }

    func setFailure(_ failure: StoreFailure?) {
        failureCode.store(failure.flatMap { StoreFailure.allCases.firstIndex(of: $0) } ?? -1, ordering: .relaxed)
    }
}
