import ForemanEngine
import ForemanDomain
@testable import ForemanStore
import ForemanTestSupport
import Foundation
import GRDB
import Testing

/// Checkpoints run beside the writer, never inside a commit (ADR 0010).
@Suite("WAL checkpoints")
struct CheckpointTests {
    /// Commits `count` native jobs, one transaction each.
    private func commitJobs(_ store: SQLiteJobStore, _ count: Int) async throws {
        for _ in 0..<count {
            _ = try await store.enqueue(Job(kind: .chat, origin: .api, model: "m", request: Data("{}".utf8), stream: false))
        }
    }

    /// Frames in the WAL now, read by checkpointing it from a connection of the test's own.
    private func walFrames(_ path: String) async throws -> Int {
        let connection = try DatabaseQueue(path: path)
        defer { try? connection.close() }
        return try await connection.writeWithoutTransaction { db in try db.checkpoint(.passive).walFrameCount }
    }

    @Test("once the checkpointer exists, commits leave the WAL to it, and it checkpoints all of it when woken", .timeLimit(.minutes(1)))
    func checkpointsOffTheCommitPath() async throws {
        let path = temporaryDatabasePath()
        let pool = try ForemanDatabase.open(path: path)
        let store = try SQLiteJobStore(pool: pool, maxQueue: 10_000)
        let (checkpoints, checkpointed) = AsyncStream<WALCheckpointer.Checkpoint>.makeStream()
        let checkpointer = WALCheckpointer(pool: pool, threshold: 200, logger: quietLogger("checkpoint")) {
            checkpointed.yield($0)
        }

        // Not running yet: nothing checkpoints, so the WAL grows past SQLite's own 1,000-page trigger.
        try await commitJobs(store, 400)
        #expect(try await walFrames(path) > 1000)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await checkpointer.run() }
            try await commitJobs(store, 100)
            // A wake left from the first commits may come first, and find a nearly empty WAL; the hook's own wake
            // comes once the new commits pass 200 pages.
            var large = checkpoints.filter { $0.walFrames >= 200 }.makeAsyncIterator()
            var checkpoint = await large.next()
            // A commit that lands while a passive checkpoint runs is left for the next one. Once the 100 commits are
            // done, one more commit wakes the checkpointer with nothing else writing, and it must take the whole WAL.
            for _ in 0..<10 where checkpoint.map({ $0.checkpointedFrames != $0.walFrames }) ?? false {
                try await commitJobs(store, 1)
                checkpoint = await large.next()
            }
            #expect(checkpoint != nil)
            #expect(checkpoint?.checkpointedFrames == checkpoint?.walFrames)
            group.cancelAll()
        }

        // Stopped: the writer checkpoints for itself again, so the WAL restarts before it reaches 1,000 pages.
        try await commitJobs(store, 400)
        #expect(try await walFrames(path) < 1000)
    }

    @Test("a checkpointer stopped after the database was closed (foreman failing at startup) stops cleanly")
    func stopsAfterTheDatabaseCloses() async throws {
        let path = temporaryDatabasePath()
        let pool = try ForemanDatabase.open(path: path)
        let checkpointer = WALCheckpointer(pool: pool, logger: quietLogger("checkpoint"))
        let running = Task { try await checkpointer.run() }
        try pool.close()
        running.cancel()
        try await running.value
    }
}
