import ForemanDomain
import Foundation
import GRDB

/// A batch's rows (ADR 0020). Each status change is one conditional `UPDATE … RETURNING`: a change that does not apply
/// (the batch moved on meanwhile) returns nothing and changes nothing.
extension SQLiteJobStore: BatchStore {
    /// Persists a new batch, `validating`, on disk before it returns.
    public nonisolated func insertBatch(_ batch: Batch) async throws {
        try await writeDurably { db in
            try db.execute(
                sql: """
                    INSERT INTO batch (id, endpoint, input_file_id, completion_window, status, metadata, webhook_url, created_at, expires_at, owner)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    batch.id, batch.endpoint, batch.inputFileID, batch.completionWindow, batch.status.rawValue, batch.metadata, batch.webhookURL,
                    DatabaseDate.storage(batch.createdAt), DatabaseDate.storage(batch.expiresAt), batch.owner,
                ]
            )
        }
    }

    /// Batch `id`; while it runs, its counts are its jobs' as they stand.
    public nonisolated func batch(id: String) async throws -> Batch? {
        try await pool.read { db in try Self.batch(db, id: id) }
    }

    /// Batches, newest first, after batch `after` in that order; with `owner`, that key's only.
    public nonisolated func batches(after: String?, limit: Int, owner: String?) async throws -> [Batch] {
        try await pool.read { db in
            var sql = "SELECT id FROM batch WHERE 1"
            var arguments: StatementArguments = []
            if let after {
                sql += " AND id < ?"
                arguments += [after]
            }
            if let owner {
                sql += " AND owner = ?"
                arguments += [owner]
            }
            arguments += [limit]
            let ids = try String.fetchAll(db, sql: sql + " ORDER BY id DESC LIMIT ?", arguments: arguments)
            return try ids.compactMap { try Self.batch(db, id: $0) }
        }
    }

    /// Every batch with work ahead, oldest first: what startup resumes.
    public nonisolated func openBatches() async throws -> [Batch] {
        try await pool.read { db in
            let ids = try String.fetchAll(db, sql: "SELECT id FROM batch WHERE status IN ('validating', 'in_progress', 'finalizing', 'cancelling') ORDER BY id")
            // The runner reads these on every job's end: it needs no counts, and counting would read every job.
            return try ids.compactMap { try Self.batch(db, id: $0, counting: false) }
        }
    }

    /// `validating` → `failed`, with OpenAI's `errors` object, and its event.
    public nonisolated func failBatch(id: String, errors: String, now: Date, event: @escaping @Sendable (Batch) -> BatchEvent?) async throws -> Batch? {
        try await endBatch(
            id,
            sql: "UPDATE batch SET status = 'failed', errors = ?, failed_at = ? WHERE id = ? AND status = 'validating' RETURNING *",
            arguments: [errors, DatabaseDate.storage(now), id], files: [], now: now, event: event
        )
    }

    /// `validating` → `in_progress`: every line `job` makes a job of becomes one, queued, in one transaction with the
    /// change. `nil` (and no job) when the batch is no longer validating.
    public func startBatch(id: String, now: Date, job: @escaping @Sendable (Int, Data) -> Job?) async throws -> Batch? {
        try await write(.full, placingQueued: false) { db, changes -> Batch? in
            guard let batch = try Self.batch(db, id: id), batch.status == .validating else { return nil }
            var total = 0
            try Self.forEachLine(db, fileID: batch.inputFileID) { number, line in
                guard var made = job(number, line) else { return }
                made.batchID = batch.id
                try made.insertRow(db)
                // The tally and the log need the job, not its body: the body stays in the row only.
                made.request = Data()
                _ = try changes.recordNew(db, made)
                total += 1
            }
            try db.execute(
                sql: "UPDATE batch SET status = 'in_progress', in_progress_at = ?, total = ? WHERE id = ?",
                arguments: [DatabaseDate.storage(now), total, id]
            )
            return try Self.batch(db, id: id)
        }
    }

    /// `validating` or `in_progress` → `cancelling`.
    public nonisolated func markCancelling(id: String, now: Date) async throws -> Batch? {
        try await move(
            id, sql: "UPDATE batch SET status = 'cancelling', cancelling_at = ? WHERE id = ? AND status IN ('validating', 'in_progress') RETURNING *", now: now
        )
    }

    /// `in_progress` or `cancelling` → `finalizing`.
    public nonisolated func markFinalizing(id: String, now: Date) async throws -> Batch? {
        try await move(
            id, sql: "UPDATE batch SET status = 'finalizing', finalizing_at = ? WHERE id = ? AND status IN ('in_progress', 'cancelling') RETURNING *", now: now
        )
    }

    /// `finalizing` → `status` (`completed`, `cancelled` or `expired`), with its files made whole, its counts and its
    /// event, in one transaction.
    public nonisolated func endBatch(
        id: String, status: Batch.Status, output: WrittenFile?, errors: WrittenFile?, counts: Batch.Counts, now: Date,
        event: @escaping @Sendable (Batch) -> BatchEvent?
    ) async throws -> Batch? {
        let column = switch status {
        case .completed: "completed_at"
        case .expired: "expired_at"
        default: "cancelled_at"
        }
        return try await endBatch(
            id,
            sql: """
                UPDATE batch SET status = ?, \(column) = ?, output_file_id = ?, error_file_id = ?, completed = ?, failed = ?
                WHERE id = ? AND status = 'finalizing' RETURNING *
                """,
            arguments: [
                status.rawValue, DatabaseDate.storage(now), output?.id, errors?.id, counts.completed, counts.failed, id,
            ],
            files: [output, errors].compactMap { $0 }, now: now, event: event
        )
    }

    /// Cancels every queued job of batch `batchID`, with `error`; how many.
    public func cancelQueuedJobs(batchID: String, error: String, now: Date) async throws -> Int {
        try await cancelQueued(sql: "SELECT * FROM job WHERE batch_id = ? AND state = 'queued' ORDER BY seq", argument: batchID, error: error, now: now)
    }

    /// Cancels every queued job of key `owner`, with `error`; how many (ADR 0022: a revoked key's queued work).
    public func cancelQueuedJobs(owner: String, error: String, now: Date) async throws -> Int {
        try await cancelQueued(sql: "SELECT * FROM job WHERE owner = ? AND state = 'queued' ORDER BY seq", argument: owner, error: error, now: now)
    }

    /// Cancels the queued jobs `sql` selects with `argument`, each change recorded as every change is.
    private func cancelQueued(sql: String, argument: String, error: String, now: Date) async throws -> Int {
        try await write(.full, placingQueued: false) { db, changes -> Int in
            let queued = try Job.fetchAll(db, sql: sql, arguments: [argument])
            for var job in queued {
                job.state = .cancelled
                job.error = error
                job.finishedAt = now
                try db.execute(
                    sql: "UPDATE job SET state = 'cancelled', error = ?, finished_at = ? WHERE seq = ?",
                    arguments: [error, DatabaseDate.storage(now), job.seq]
                )
                job.request = Data()
                try changes.record(db, job, from: .queued, at: now)
            }
            return queued.count
        }
    }

    /// The ids of batch `batchID`'s running jobs.
    public nonisolated func runningJobIDs(batchID: String) async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "SELECT id FROM job WHERE batch_id = ? AND state = 'running'", arguments: [batchID]) }
    }

    /// Whether any of batch `batchID`'s jobs is queued or running: two index seeks, whatever the batch's size.
    public nonisolated func hasUnfinishedJobs(batchID: String) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM job WHERE batch_id = ? AND state IN ('queued', 'running'))", arguments: [batchID]
            ) ?? false
        }
    }

    /// Batch `batchID`'s jobs in input order, `limit` at a time, after `seq`.
    public nonisolated func batchJobs(batchID: String, after seq: Int64, limit: Int) async throws -> [Job] {
        try await pool.read { db in
            try Job.fetchAll(db, sql: "SELECT * FROM job WHERE batch_id = ? AND seq > ? ORDER BY seq LIMIT ?", arguments: [batchID, seq, limit])
        }
    }

    private nonisolated func move(_ id: String, sql: String, now: Date) async throws -> Batch? {
        try await writeDurably { db in
            guard try Row.fetchOne(db, sql: sql, arguments: [DatabaseDate.storage(now), id]) != nil else { return nil }
            return try Self.batch(db, id: id)
        }
    }

    /// A final transition: `sql` (an `UPDATE … RETURNING`), the batch's files made whole, and its event.
    private nonisolated func endBatch(
        _ id: String, sql: String, arguments: StatementArguments, files: [WrittenFile], now: Date, event: @escaping @Sendable (Batch) -> BatchEvent?
    ) async throws -> Batch? {
        let (batch, announced) = try await writeDurably { db -> (Batch?, Bool) in
            guard try Row.fetchOne(db, sql: sql, arguments: arguments) != nil, let batch = try Self.batch(db, id: id) else { return (nil, false) }
            for file in files {
                try db.execute(sql: "UPDATE file SET status = 'processed', bytes = ? WHERE id = ?", arguments: [file.bytes, file.id])
            }
            guard let event = event(batch) else { return (batch, false) }
            var delivery = WebhookDelivery(
                webhookID: "msg_" + JobID.make(now: now).dropFirst("job_".count),
                jobID: nil,
                batchID: batch.id,
                url: event.url,
                endpoint: WebhookEndpoint.of(event.url),
                payload: event.payload,
                state: .pending,
                attempts: 0,
                createdAt: now,
                nextAttemptAt: now
            )
            try delivery.insert(db)
            return (batch, true)
        }
        if announced { outboxChanged() }
        return batch
    }

    /// Batch `id` in `db`; with `counting`, its counts its jobs' while it runs.
    static func batch(_ db: Database, id: String, counting: Bool = true) throws -> Batch? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM batch WHERE id = ?", arguments: [id]) else { return nil }
        var batch = try Batch(row: row)
        if counting, batch.status == .inProgress || batch.status == .cancelling || batch.status == .finalizing {
            let states = try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM job WHERE batch_id = ? GROUP BY state", arguments: [id])
            batch.counts.completed = 0
            batch.counts.failed = 0
            for row in states {
                let count: Int = row["n"]
                switch JobState(rawValue: row["state"]) {
                case .succeeded: batch.counts.completed += count
                case .failed, .cancelled: batch.counts.failed += count
                default: break
                }
            }
        }
        return batch
    }
}

extension Batch {
    init(row: Row) throws {
        func date(_ column: String) -> Date? { (row[column] as String?).flatMap(DatabaseDate.date) }
        guard let status = Status(rawValue: row["status"]), let created = date("created_at"), let expires = date("expires_at") else {
            throw StoredJobError(column: "batch", value: "\(row)")
        }
        self.init(id: row["id"], endpoint: row["endpoint"], inputFileID: row["input_file_id"], metadata: row["metadata"], webhookURL: row["webhook_url"], createdAt: created)
        self.completionWindow = row["completion_window"]
        self.owner = row["owner"]
        self.status = status
        self.expiresAt = expires
        self.errors = row["errors"]
        self.outputFileID = row["output_file_id"]
        self.errorFileID = row["error_file_id"]
        self.counts = Counts(total: row["total"], completed: row["completed"], failed: row["failed"])
        self.inProgressAt = date("in_progress_at")
        self.finalizingAt = date("finalizing_at")
        self.completedAt = date("completed_at")
        self.failedAt = date("failed_at")
        self.expiredAt = date("expired_at")
        self.cancellingAt = date("cancelling_at")
        self.cancelledAt = date("cancelled_at")
    }
}
