import Synchronization

/// Counts the writes waiting for or holding SQLite's single writer connection, so that a commit on an event loop can
/// tell whether it would have to wait for one.
///
/// A native call's deferred commit runs on its connection's event loop (ADR 0012) because hopping to the writer's
/// queue costs more than the commit. That is only right while the writer is free: behind an fsync, a prune batch or
/// a write stuck on another process's lock, the loop, and every connection on it, would wait too (ADR 0013). Every
/// write to the database is made inside ``around(_:)``.
final class WriterActivity: Sendable {
    private let writes = Atomic<Int>(0)

    init() {}

    /// Whether a write is waiting for the writer or holds it now.
    var isBusy: Bool { writes.load(ordering: .relaxed) > 0 }

    /// Runs `write`, counted as busy from start to end.
    func around<T>(isolation: isolated (any Actor)? = #isolation, _ write: () async throws -> T) async rethrows -> T {
        writes.wrappingAdd(1, ordering: .relaxed)
        defer { writes.wrappingSubtract(1, ordering: .relaxed) }
        return try await write()
    }
}
