import Foundation
import GRDB

/// The durable queue: every job row, every state change, and how many jobs are waiting.
///
/// All writes go through this actor. That lets it keep the queue depth in memory (counting 100k queued
/// rows on every submission would put an index scan on the hot path) while SQLite stays the truth:
/// the count is read from the table at startup and adjusted only after each commit succeeds.
public actor JobStore {
    public nonisolated let pool: DatabasePool
    private let maxQueue: Int
    private var queued: Int

    /// Opens the store over an already-migrated pool (see ``ForemanDatabase/open(path:)``).
    public init(pool: DatabasePool, maxQueue: Int) throws {
        self.pool = pool
        self.maxQueue = maxQueue
        self.queued = try pool.read { db in
            try Job.filter(Job.CodingKeys.state == JobState.queued.rawValue).fetchCount(db)
        }
    }

    /// How many jobs are waiting to run.
    public var queueDepth: Int { queued }

    /// Persists a new queued job. Returns only once the row is committed.
    ///
    /// - Throws: ``JobStoreError/queueFull`` when ``queueDepth`` has reached the configured maximum.
    @discardableResult
    public func enqueue(_ job: Job) async throws -> Job {
        guard queued < maxQueue else { throw JobStoreError.queueFull }
        // Reserve the slot before suspending so concurrent submissions cannot overshoot the bound.
        queued += 1
        do {
            return try await pool.write { db in
                var job = job
                try job.insert(db)
                return job
            }
        } catch {
            queued -= 1
            throw error
        }
    }

    /// Marks the oldest queued job `running` and returns it, or `nil` when the queue is empty.
    public func claimNext(now: Date = Date()) async throws -> Job? {
        let claimed = try await pool.write { db -> Job? in
            guard var job = try Job.filter(Job.CodingKeys.state == JobState.queued.rawValue)
                .order(Job.CodingKeys.seq).fetchOne(db)
            else { return nil }
            job.state = .running
            job.startedAt = now
            job.attempts += 1
            try job.update(db)
            return job
        }
        if claimed != nil { queued -= 1 }
        return claimed
    }

    /// Records how a running job ended. A job that is no longer running (cancelled meanwhile) keeps its state.
    @discardableResult
    public func finish(
        id: String,
        state: JobState,
        error: String? = nil,
        response: Data? = nil,
        now: Date = Date()
    ) async throws -> Bool {
        precondition(state.isTerminal, "finish needs a terminal state")
        return try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE job SET state = ?, error = ?, response = ?, finished_at = ?
                    WHERE id = ? AND state = 'running'
                    """,
                arguments: [state.rawValue, error, response, now, id]
            )
            return db.changesCount == 1
        }
    }

    /// Cancels `id` if it is still queued. Returns `false` when it had already been claimed or had ended.
    public func cancelIfQueued(id: String, reason: String, now: Date = Date()) async throws -> Bool {
        let cancelled = try await pool.write { db in
            try db.execute(
                sql: "UPDATE job SET state = 'cancelled', error = ?, finished_at = ? WHERE id = ? AND state = 'queued'",
                arguments: [reason, now, id]
            )
            return db.changesCount == 1
        }
        if cancelled { queued -= 1 }
        return cancelled
    }

    /// The job with this identifier, if any.
    public func job(id: String) async throws -> Job? {
        try await pool.read { db in try Job.filter(Job.CodingKeys.id == id).fetchOne(db) }
    }

    /// Fails `api`-origin jobs a previous process left queued or running: their callers' connections died
    /// with that process, so nobody is waiting for the answer. Returns how many were failed.
    @discardableResult
    public func failOrphanedAPIJobs(now: Date = Date()) async throws -> Int {
        let (failed, wereQueued) = try await pool.write { db in
            let wereQueued = try Job.filter(
                Job.CodingKeys.origin == JobOrigin.api.rawValue && Job.CodingKeys.state == JobState.queued.rawValue
            ).fetchCount(db)
            try db.execute(
                sql: """
                    UPDATE job SET state = 'failed', error = 'interrupted by restart', finished_at = ?
                    WHERE origin = 'api' AND state IN ('queued', 'running')
                    """,
                arguments: [now]
            )
            return (db.changesCount, wereQueued)
        }
        queued -= wereQueued
        return failed
    }
}

/// Why the store refused a write.
public enum JobStoreError: Error, Equatable {
    /// ``JobStore/queueDepth`` reached `FOREMAN_MAX_QUEUE`.
    case queueFull
}
