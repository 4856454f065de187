import Foundation
import Synchronization

/// Makes commits durable off the writer connection: a full write commits without its own fsync, then waits here for
/// the next fsync of the WAL file, which one thread makes for every commit that asked meanwhile (ADR 0024).
///
/// SQLite's own full commit fsyncs the WAL while it holds the writer connection, so every other write, a worker's
/// next claim among them, waited for the disk too. Here the writer is free again as soon as the frames are written.
/// An fsync flushes every page of the file whichever descriptor asks for it, so one on a descriptor of this type's
/// own covers every frame written before it began.
///
/// The fsync runs on a dispatch queue of its own, a thread that may block, and the waiters are resumed from there.
/// Their tickets sit behind a mutex: the one piece of state that thread and the writers share.
final class WALSync: Sendable {
    /// The WAL file's descriptor. Closing it drops no lock of SQLite's: SQLite locks the database file and the
    /// `-shm` index, never the WAL.
    private let descriptor: Int32
    private let flush: @Sendable (Int32) -> Int32
    private let queue = DispatchQueue(label: "foreman.wal-sync")
    private let state = Mutex(State())

    private struct State {
        /// Syncs asked for; each waiter holds the count as it asked.
        var asked: UInt64 = 0
        var flushing = false
        var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    /// Nil when the WAL cannot be opened: full writes then commit with SQLite's own fsync.
    ///
    /// - Parameters:
    ///   - databasePath: the database file, open in WAL mode; its WAL is the file beside it with `-wal` added.
    ///   - flush: the fsync itself, on the sync thread (tests hold it to see who waits for it).
    init?(databasePath: String, flush: @escaping @Sendable (Int32) -> Int32) {
        let descriptor = open(databasePath + "-wal", O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
        self.flush = flush
    }

    deinit {
        close(descriptor)
    }

    /// Returns once an fsync of the WAL that began after this call has ended: every frame written before the call is
    /// then on disk.
    ///
    /// - Throws: ``WALSyncError`` when that fsync failed.
    func sync() async throws {
        try await withCheckedThrowingContinuation { continuation in
            let start: UInt64? = state.withLock { state in
                state.asked += 1
                state.waiters.append((state.asked, continuation))
                guard !state.flushing else { return nil }
                state.flushing = true
                return state.asked
            }
            if let through = start { flush(through: through) }
        }
    }

    /// Makes one fsync on the sync thread, resumes the waiters it covers, and starts the next if more asked
    /// meanwhile.
    private func flush(through: UInt64) {
        queue.async { [self] in
            var through = through
            while true {
                let failure = flush(descriptor) == 0 ? nil : WALSyncError(errno: errno)
                let (covered, next) = state.withLock { state in
                    let covered = state.waiters.filter { $0.ticket <= through }.map(\.continuation)
                    state.waiters.removeAll { $0.ticket <= through }
                    guard state.asked > through else {
                        state.flushing = false
                        return (covered, UInt64?.none)
                    }
                    return (covered, state.asked)
                }
                for waiter in covered {
                    if let failure { waiter.resume(throwing: failure) } else { waiter.resume() }
                }
                guard let next else { return }
                through = next
            }
        }
    }
}

/// An fsync of the WAL failed: what was committed may not be on disk.
struct WALSyncError: Error, CustomStringConvertible {
    let errno: Int32
    var description: String { "fsync of the WAL failed: \(String(cString: strerror(errno)))" }
}
