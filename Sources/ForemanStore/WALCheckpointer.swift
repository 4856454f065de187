import Foundation
import GRDB
import Logging
import ServiceLifecycle

#if canImport(GRDBSQLite)
import GRDBSQLite
#else
import SQLite3
#endif

/// Moves SQLite's WAL checkpoints off the commit path: it checkpoints on a connection of its own whenever the
/// writer's commits have grown the WAL past `threshold` pages.
///
/// SQLite checkpoints inside the commit that takes the WAL past 1,000 pages. That commit then copies every page
/// back into the database file and fsyncs both files, a few milliseconds that the job being committed waits for.
/// At about three commits per native call that was every few dozen calls, and it was the whole of foreman's p99
/// (ADR 0010). While this service runs, the writer connection's hook only wakes it, and it runs the same PASSIVE
/// checkpoint beside the writer: a passive checkpoint never waits for the writer or for readers, nor blocks them.
/// When the service stops, the writer checkpoints for itself again.
public actor WALCheckpointer: Service {
    private let pool: DatabasePool
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let logger: Logger
    private let onCheckpoint: @Sendable (Checkpoint) -> Void

    /// What one checkpoint did.
    public struct Checkpoint: Sendable, Equatable {
        /// Frames in the WAL when it ran.
        public var walFrames: Int
        /// Of those, how many are now in the database file.
        public var checkpointedFrames: Int
    }

    /// Takes checkpoints over from the writer connection at once: from here on, run the service.
    ///
    /// - Parameters:
    ///   - pool: the store's pool; its writer connection gets the hook, and its file the checkpointing connection.
    ///   - threshold: WAL pages that wake a checkpoint (SQLite's own default is 1,000).
    ///   - onCheckpoint: called after each checkpoint (tests wait on it).
    public init(
        pool: DatabasePool,
        threshold: Int = 1000,
        logger: Logger,
        onCheckpoint: @escaping @Sendable (Checkpoint) -> Void = { _ in }
    ) {
        self.pool = pool
        self.logger = logger
        self.onCheckpoint = onCheckpoint
        (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let watch = Unmanaged.passRetained(WALWatch(threshold: Int32(clamping: threshold), wake: wake))
        hookContext = watch
        pool.writeWithoutTransaction { db in
            // A WAL hook replaces the connection's automatic checkpoint: they share SQLite's one slot.
            _ = sqlite3_wal_hook(db.sqliteConnection, walHook, watch.toOpaque())
        }
    }

    public func run() async throws {
        defer {
            wake.finish()
            handBack()
        }
        try await checkpointUntilShutdown()
    }

    private func checkpointUntilShutdown() async throws {
        // Opened at the first wake: an idle foreman need not carry a connection (and its page cache) it never uses.
        var connection: DatabaseQueue?
        for await _ in wakes.cancelOnGracefulShutdown() {
            do {
                let open = try connection ?? DatabaseQueue(path: pool.path, configuration: ForemanDatabase.configuration)
                connection = open
                onCheckpoint(try await Self.checkpoint(open))
            } catch {
                logger.warning("WAL checkpoint failed; the next one retries", metadata: ["error": "\(error)"])
            }
        }
        try connection?.close()
    }

    /// Runs one passive checkpoint on `connection`.
    static func checkpoint(_ connection: DatabaseQueue) async throws -> Checkpoint {
        try await connection.writeWithoutTransaction { db in
            let (frames, checkpointed) = try db.checkpoint(.passive)
            return Checkpoint(walFrames: frames, checkpointedFrames: checkpointed)
        }
    }

    /// Gives checkpoints back to the writer (SQLite's default of 1,000 pages) and releases the hook's context.
    /// Synchronous on purpose: it must also happen when the service's task is cancelled, and GRDB's async
    /// accesses refuse to start in a cancelled task.
    private func handBack() {
        pool.writeWithoutTransaction { db in
            // When foreman stops on an error, every service is cancelled at once and the database may already be
            // closed: the hook went with its connection, and there is nothing to hand back.
            guard let connection = db.sqliteConnection else { return }
            _ = sqlite3_wal_autocheckpoint(connection, 1000)
        }
        hookContext?.release()
        hookContext = nil
    }

    /// The hook's context, retained while the hook is installed.
    private var hookContext: Unmanaged<WALWatch>?
}

/// What the writer's WAL hook reads: when to wake the checkpointer, and how.
private final class WALWatch: Sendable {
    let threshold: Int32
    let wake: AsyncStream<Void>.Continuation

    init(threshold: Int32, wake: AsyncStream<Void>.Continuation) {
        self.threshold = threshold
        self.wake = wake
    }
}

/// Called by SQLite on the writer's thread after each commit, with the WAL's size in pages.
private let walHook: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32 = { context, _, _, pages in
    if let context {
        let watch = Unmanaged<WALWatch>.fromOpaque(context).takeUnretainedValue()
        if pages >= watch.threshold { watch.wake.yield() }
    }
    return SQLITE_OK
}
