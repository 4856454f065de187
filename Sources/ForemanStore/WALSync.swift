import Foundation

/// Makes commits durable off the writer connection: a full write commits without its own fsync, then waits here for
/// the next fsync of the WAL file, which one thread makes for every commit that asked meanwhile (ADR 0024).
///
/// SQLite's own full commit fsyncs the WAL while it holds the writer connection, so every other write, a worker's
/// next claim among them, waited for the disk too. Here the writer is free again as soon as the frames are written.
/// An fsync flushes every page of the file whichever descriptor asks for it, so one on a descriptor of this type's
/// own covers every frame written before it began.
actor WALSync {
    /// The WAL file's descriptor. Closing it drops no lock of SQLite's: SQLite locks the database file and the
    /// `-shm` index, never the WAL.
    private let descriptor: Int32
    private let flush: @Sendable (Int32) -> Int32
    private let queue = DispatchQueue(label: "foreman.wal-sync")
    /// Syncs asked for, and how many of them the last finished fsync covered.
    private var asked: UInt64 = 0
    private var covered: UInt64 = 0
    private var flushing = false
    private var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    /// How many fsyncs were made (tests and metrics read it).
    private(set) var flushes = 0

    /// Nil when the WAL cannot be opened: full writes then commit with SQLite's own fsync.
    ///
    /// - Parameters:
    ///   - databasePath: the database file, open in WAL mode; its WAL is the file beside it with `-wal` added.
    ///   - flush: the fsync itself, on the sync thread (tests hold it to see who waits for it).
    init?(databasePath: String, flush: @escaping @Sendable (Int32) -> Int32 = { fsync($0) }) {
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
        asked += 1
        let ticket = asked
        try await withCheckedThrowingContinuation { continuation in
            waiters.append((ticket, continuation))
            startIfIdle()
        }
    }

    private func startIfIdle() {
        guard !flushing, covered < asked else { return }
        let descriptor = self.descriptor
        flushing = true
        let through = asked
        let flush = self.flush
        queue.async {
            let failure = flush(descriptor) == 0 ? nil : WALSyncError(errno: errno)
            Task { await self.finished(through: through, failure: failure) }
        }
    }

    private func finished(through: UInt64, failure: WALSyncError?) {
        flushing = false
        flushes += 1
        covered = through
        let done = waiters.filter { $0.ticket <= through }
        waiters.removeAll { $0.ticket <= through }
        for waiter in done {
            if let failure { waiter.continuation.resume(throwing: failure) } else { waiter.continuation.resume() }
        }
        startIfIdle()
    }
}

/// An fsync of the WAL failed: what was committed may not be on disk.
struct WALSyncError: Error, CustomStringConvertible {
    let errno: Int32
    var description: String { "fsync of the WAL failed: \(String(cString: strerror(errno)))" }
}
