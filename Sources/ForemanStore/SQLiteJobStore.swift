import ForemanDomain
import Foundation
import GRDB
import Logging

#if canImport(GRDBSQLite)
import GRDBSQLite
#else
import SQLite3
#endif

/// The durable queue: every job row, every state change, and how many jobs are waiting.
///
/// All writes go through this actor. That lets it keep the queue's tally in memory (counting 100k queued
/// rows on every submission would put an index scan on the hot path) while SQLite stays the truth:
/// the tally is read from the table at startup and moved only by the state changes of each committed write.
///
/// Every state change of a job with a `state_webhook_url` also inserts its webhook event into the outbox
/// in the same transaction, so an event can never be lost between the change and its delivery.
public actor SQLiteJobStore: JobStore {
    public nonisolated let pool: DatabasePool
    private let maxQueue: Int
    private(set) var tally: QueueTally {
        didSet { publish() }
    }
    /// The queue depth, the top queued priorities and write failures, readable without waiting for this actor.
    public nonisolated let health = StoreHealth()
    /// Native jobs handed over to be written behind, each as it stood when handed (ADR 0016), oldest first.
    var behind: [Job] = []
    /// Embeddings calls' usage, handed over to be committed with the rows written behind (ADR 0022).
    var usageBehind: [UsageRow] = []
    /// Whether a commit of rows written behind is under way, and who waits for it to end.
    var flushingBehind = false
    var behindFlushWaiters: [CheckedContinuation<Void, Never>] = []
    let behindHanded: @Sendable () -> Void
    /// Submissions counted against `maxQueue` while their commit is in flight.
    private var reserved = 0
    /// Jobs this store committed as `running`, as their rows stand: a finish builds the finished job from its entry
    /// instead of reading the row back (ADR 0012). A cache, not the truth: a full commit applies its transitions
    /// when its fsync returns, possibly after a later change of the same job, so an entry may be missing.
    private var running: [String: Job] = [:]
    var runTimes = RunTimes()
    /// When each key last had a generation claimed, as a count of claims (ADR 0022): the scheduler's turns. Memory
    /// only: after a restart the turns start again from the oldest job.
    private var keysLastStarted: [String: Int64] = [:]
    private var starts: Int64 = 0
    /// Queued jobs in order, for their places (``QueueOrder``); moved with the tally.
    private var order: QueueOrder
    let outboxChanged: @Sendable () -> Void
    /// Every write to the database, the job rows' and the outbox's (see ``WriterActivity``): the store makes them all.
    nonisolated let writer = WriterActivity()
    /// Where a full write waits for the disk, off the writer (ADR 0024); nil: SQLite fsyncs in the commit.
    let walSync: WALSync?
    /// The writer connection's `synchronous` level between writes: NORMAL (`.deferred`) when ``walSync`` makes full
    /// writes durable, so that no commit sets it (ADR 0041); FULL otherwise, lowered by each deferred commit for itself.
    nonisolated var writerStanding: Durability { walSync == nil ? .full : .deferred }
    private let observer: any JobTransitionObserver
    let logger: Logger

    /// Opens the store over an already-migrated pool (see ``ForemanDatabase/open(path:)``).
    ///
    /// - Parameters:
    ///   - outboxChanged: called after a commit that added webhook events (wakes the delivery service).
    ///   - behindHanded: called when a native job is handed over to be written behind (wakes whoever calls
    ///     ``flushWritesBehind()``).
    ///   - observer: told of every committed state change, once, in commit order (logs and metrics).
    ///   - logger: the store's own troubles (a write that failed, and its recovery).
    ///   - walFlush: how a full write's WAL is synced off the writer (tests hold it); nil: by SQLite, in the commit.
    public init(
        pool: DatabasePool,
        maxQueue: Int,
        observer: any JobTransitionObserver = IgnoringTransitions(),
        logger: Logger = Logger(label: "foreman"),
        outboxChanged: @escaping @Sendable () -> Void = {},
        behindHanded: @escaping @Sendable () -> Void = {},
        walFlush: (@Sendable (Int32) -> Int32)? = SQLiteJobStore.flushToDisk
    ) throws {
        self.pool = pool
        self.behindHanded = behindHanded
        self.maxQueue = maxQueue
        self.outboxChanged = outboxChanged
        self.observer = observer
        self.logger = logger
        self.walSync = walFlush.flatMap { WALSync(databasePath: pool.path, flush: $0) }
        if walSync != nil {
            // Every write that promises durability now waits for ``WALSync`` instead: the commits' own fsyncs are off.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        }
        self.tally = try pool.read(QueueTally.read)
        self.order = try pool.read(QueueOrder.read)
        publish(tally)
    }

    /// The flush a durable write waits for: `fsync`, and on Apple's systems `F_FULLFSYNC`, which alone empties the
    /// drive's cache there (as SQLite's `fullfsync`, set on every connection, does for SQLite's own syncs).
    @Sendable
    public static func flushToDisk(_ descriptor: Int32) -> Int32 {
        #if canImport(Darwin)
        if fcntl(descriptor, F_FULLFSYNC) == 0 { return 0 }
        #endif
        return fsync(descriptor)
    }

    /// Tells the observer and the nonisolated readers what the tally says now.
    private nonisolated func publish(_ tally: QueueTally) {
        observer.queueDepthChanged(tally.totalQueued)
        // What admission reads: batches' jobs wait apart (ADR 0020).
        health.setQueueDepth(tally.admissionQueued)
        for lane in [JobLane.generation, .embeddings] { health.setHighestQueuedPriority(tally.highestQueuedPriority(in: lane), in: lane) }
    }

    private func publish() { publish(tally) }

    /// How many jobs are waiting to run.
    public var queueDepth: Int { tally.totalQueued }



    /// Persists a new queued job. Returns only once the row is committed (on disk for a `/jobs` job, ADR 0010).
    ///
    /// Submissions that arrive while another commit is in flight are committed together in the next transaction
    /// (group commit, ADR 0009): one fsync for the batch, and still no answer before its row is on disk.
    ///
    /// - Throws: ``JobStoreError/queueFull`` when ``queueDepth`` has reached the configured maximum;
    ///   ``JobStoreError/idempotencyKeyReused(_:)`` when the key came before with a different body.
    public func enqueue(_ job: Job, idempotencyKey: String? = nil, fingerprint: String? = nil) async throws -> EnqueueResult {
        guard tally.admissionQueued + reserved < maxQueue else {
            if let idempotencyKey, let original = try await jobByKey(idempotencyKey) {
                return try Self.replay(original, fingerprint: fingerprint)
            }
            throw JobStoreError.queueFull
        }
        // Reserve the slot before suspending so concurrent submissions cannot overshoot the bound.
        reserved += 1
        defer { reserved -= 1 }
        let submission = Submission(job: job, idempotencyKey: idempotencyKey, fingerprint: fingerprint)
        let result: Result<EnqueueResult, any Error>
        if committing {
            switch await withCheckedContinuation({ pending.append((submission, $0)) }) {
            case .committed(let committed): result = committed
            case .lead: result = await leadCommit(submission)
            }
        } else {
            committing = true
            result = await leadCommit(submission)
        }
        return try result.get()
    }

    /// One submission waiting for a commit.
    private struct Submission: Sendable {
        var job: Job
        var idempotencyKey: String?
        var fingerprint: String?
    }

    /// What a waiting submission is woken with: its outcome, or the turn to commit the next batch.
    private enum Wake: Sendable {
        case committed(Result<EnqueueResult, any Error>)
        case lead
    }

    private var committing = false
    private var pending: [(Submission, CheckedContinuation<Wake, Never>)] = []

    /// Commits `mine` with every submission waiting now, wakes them, and hands the next batch to the first
    /// submission that arrived meanwhile, so no caller commits more than one batch.
    private func leadCommit(_ mine: Submission) async -> Result<EnqueueResult, any Error> {
        let followers = pending
        pending.removeAll()
        let batch = [mine] + followers.map(\.0)
        let durability: Durability = batch.contains { $0.job.origin.transitionDurability == .full } ? .full : .deferred
        let results: [Result<EnqueueResult, any Error>]
        do {
            results = try await write(durability, onWriterQueue: durability == .full) { db, changes in
                batch.map { submission in Result { try Self.insert(submission, db, &changes) } }
            }
        } catch {
            results = Array(repeating: .failure(error), count: batch.count)
        }
        for (follower, result) in zip(followers, results.dropFirst()) {
            follower.1.resume(returning: .committed(result))
        }
        if pending.isEmpty {
            committing = false
        } else {
            pending.removeFirst().1.resume(returning: .lead)
        }
        return results[0]
    }

    private static func insert(_ submission: Submission, _ db: Database, _ changes: inout StateChanges) throws -> EnqueueResult {
        if let key = submission.idempotencyKey, let original = try Self.job(db, idempotencyKey: key) {
            return try replay(original, fingerprint: submission.fingerprint)
        }
        var job = submission.job
        job.idempotencyKey = submission.idempotencyKey
        job.requestFingerprint = submission.fingerprint
        try job.insertRow(db)
        let placement = try changes.recordNew(db, job)
        return .created(job, placement)
    }

    private static func replay(_ original: Job, fingerprint: String?) throws -> EnqueueResult {
        guard original.requestFingerprint == fingerprint else { throw JobStoreError.idempotencyKeyReused(original) }
        return .existing(original)
    }

    public func replay(idempotencyKey: String, fingerprint: String?) async throws -> EnqueueResult? {
        guard let original = try await jobByKey(idempotencyKey) else { return nil }
        return try Self.replay(original, fingerprint: fingerprint)
    }

    private func jobByKey(_ key: String) async throws -> Job? {
        try await pool.read { db in try Self.job(db, idempotencyKey: key) }
    }

    // Every statement on a job's path through the queue is kept compiled by its connection (`cachedStatement`):
    // compiling costs more than running them (ADR 0010).

    private static func job(_ db: Database, idempotencyKey: String) throws -> Job? {
        try Job.fetchOne(db.cachedStatement(sql: "SELECT * FROM job WHERE idempotency_key = ?"), arguments: [idempotencyKey])
    }

    private static func job(_ db: Database, id: String) throws -> Job? {
        try Job.fetchOne(db.cachedStatement(sql: "SELECT * FROM job WHERE id = ?"), arguments: [id])
    }

    /// Marks the job the ``Scheduler`` picks `running` and returns it, or `nil` when the queue is empty.
    ///
    /// Only the top priority tier is read, and only its first `window` jobs: an affinity match further back
    /// than that is not worth a scan of the whole queue on every claim. With a `scope` (a fleet, ADR 0017) the tier
    /// is the top one among the jobs the scope admits.
    public func claimNext(chatSlot: String?, policy: Scheduler.Policy, scope: ClaimScope?, now: Date) async throws -> Job? {
        try await claimNext(chatSlot: chatSlot, policy: policy, scope: scope, window: 512, now: now)
    }

    func claimNext(chatSlot: String?, policy: Scheduler.Policy, scope: ClaimScope? = nil, window: Int, now: Date) async throws -> Job? {
        // The worker asks after every job; an empty lane needs no transaction to say so.
        guard tally.queued(in: .generation) > 0 else { return nil }
        // A claim need not reach the disk before the run starts: lost in a power cut, the job is simply still
        // queued and runs again (ADR 0010).
        let lastStarted = keysLastStarted
        // Keys take turns only when two or more have work queued; the tally says so without the three reads that
        // would find it out (ADR 0024).
        let mayTakeTurns = tally.queuedOwners(in: .generation) > 1
        let claimed = try await write(.deferred) { db, changes -> Job? in
            let (filter, scopeArguments) = Self.scopeFilter(scope)
            let tier = try db.cachedStatement(sql: """
                SELECT seq, model, priority, skips, first_skipped_at FROM job
                WHERE state = 'queued' AND kind != 'embed'\(filter)
                AND priority = (SELECT MAX(priority) FROM job WHERE state = 'queued' AND kind != 'embed'\(filter))
                ORDER BY seq LIMIT ?
                """)
            func candidates(_ limit: Int) throws -> [Scheduler.Candidate] {
                // By position: a look-up by column name lowercases the name, for every column of every row.
                try Row.fetchAll(tier, arguments: StatementArguments(scopeArguments + scopeArguments + [limit])).map {
                    Scheduler.Candidate(seq: $0[0], model: $0[1], priority: $0[2], skips: $0[3], firstSkippedAt: ($0[4] as String?).flatMap(DatabaseDate.date))
                }
            }
            // With jobs of more than one key at the top priority, the keys take turns (ADR 0022): each key's oldest
            // jobs are read, one seek per key, and the scheduler puts them in fair order.
            let keyed = mayTakeTurns ? try Self.keyedCandidates(db, filter: filter, arguments: scopeArguments, window: window) : nil
            // Most claims find the slot's model at the head of the queue: the window is read only when it is not.
            var queue = try keyed ?? candidates(1)
            if keyed == nil, let head = queue.first, !Scheduler.headDecides(head, chatSlot: chatSlot) { queue = try candidates(window) }
            let candidates = queue
            guard let decision = Scheduler.decide(queue: candidates, chatSlot: chatSlot, now: now, policy: policy, lastStarted: lastStarted) else {
                return nil
            }
            for seq in decision.passedOver {
                try db.cachedStatement(sql: "UPDATE job SET skips = skips + 1, first_skipped_at = COALESCE(first_skipped_at, ?) WHERE seq = ?")
                    .execute(arguments: [DatabaseDate.storage(now), seq])
            }
            return try Self.markRunning(seq: decision.chosen, on: scope?.provider, db, &changes, now)
        }
        if let claimed {
            starts += 1
            keysLastStarted[claimed.owner ?? ""] = starts
        }
        return claimed
    }

    /// The top priority's candidates when jobs of more than one key wait there: each key's oldest, up to an equal
    /// share of `window` (at least eight), in FIFO order. `nil` when one key or none waits: the caller reads the queue
    /// as before. The keys are found by a walk of `job_queue_owner`, one seek each.
    private static func keyedCandidates(
        _ db: Database, filter: String, arguments: [any DatabaseValueConvertible], window: Int
    ) throws -> [Scheduler.Candidate]? {
        let queued = "state = 'queued' AND kind != 'embed'\(filter)"
        guard let top = try Int.fetchOne(db.cachedStatement(sql: "SELECT MAX(priority) FROM job WHERE \(queued)"), arguments: StatementArguments(arguments))
        else { return nil }
        let named = try String.fetchAll(
            db.cachedStatement(sql: """
                WITH RECURSIVE owners(owner) AS (
                    SELECT MIN(owner) FROM job WHERE \(queued) AND priority = ?
                    UNION ALL
                    SELECT (SELECT MIN(owner) FROM job WHERE \(queued) AND priority = ? AND owner > owners.owner) FROM owners WHERE owner IS NOT NULL
                )
                SELECT owner FROM owners WHERE owner IS NOT NULL
                """),
            arguments: StatementArguments(arguments + [top] + arguments + [top])
        )
        let bootstrap = try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM job WHERE \(queued) AND priority = ? AND owner IS NULL)"),
            arguments: StatementArguments(arguments + [top])
        ) ?? false
        let owners: [String?] = (bootstrap ? [nil] : []) + named.map { $0 }
        guard owners.count > 1 else { return nil }
        let share = max(8, window / owners.count)
        var candidates: [Scheduler.Candidate] = []
        for owner in owners {
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT seq, model, priority, skips, first_skipped_at, owner FROM job
                    WHERE \(queued) AND priority = ? AND owner \(owner == nil ? "IS NULL" : "= ?") ORDER BY seq LIMIT ?
                    """),
                arguments: StatementArguments(arguments + [top] + (owner.map { [$0] } ?? []) + [share])
            )
            candidates += rows.map {
                Scheduler.Candidate(
                    seq: $0[0], model: $0[1], priority: $0[2], skips: $0[3], firstSkippedAt: ($0[4] as String?).flatMap(DatabaseDate.date), owner: $0[5]
                )
            }
        }
        return candidates.sorted { $0.seq < $1.seq }
    }

    /// Marks the oldest queued `embed` job of the highest priority `running` and returns it (the embeddings
    /// lane's own queue, ADR 0008), or `nil` when none waits.
    public func claimNextEmbed(scope: ClaimScope?, now: Date = Date()) async throws -> Job? {
        guard tally.queued(in: .embeddings) > 0 else { return nil }
        let claimed = try await write(.deferred) { db, changes -> Job? in
            let (filter, scopeArguments) = Self.scopeFilter(scope)
            guard let seq = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT seq FROM job WHERE state = 'queued' AND kind = 'embed'\(filter) ORDER BY priority DESC, seq LIMIT 1"),
                arguments: StatementArguments(scopeArguments)
            ) else { return nil }
            return try Self.markRunning(seq: seq, on: scope?.provider, db, &changes, now)
        }
        return claimed
    }

    /// The SQL condition that keeps the jobs `scope` admits (``ClaimScope/admits(_:)``), and its arguments: none
    /// without a scope, or for a provider that is alone. The models go as one JSON array, so the statement's text, and its cache entry, stay the same
    /// whatever the provider lists.
    private static func scopeFilter(_ scope: ClaimScope?) -> (sql: String, arguments: [any DatabaseValueConvertible]) {
        guard let listed = scope?.models, let provider = scope?.provider else { return ("", []) }
        let models = String(decoding: (try? JSONSerialization.data(withJSONObject: listed.sorted())) ?? Data("[]".utf8), as: UTF8.self)
        return (
            " AND (provider = ? OR (provider IS NULL AND model IN (SELECT value FROM json_each(?))))",
            [provider, models]
        )
    }

    private static func markRunning(seq: Int64, on provider: String?, _ db: Database, _ changes: inout StateChanges, _ now: Date) throws -> Job? {
        let statement = try db.cachedStatement(sql: """
            UPDATE job SET state = 'running', started_at = ?, attempts = attempts + 1, ran_on = COALESCE(?, ran_on)
            WHERE seq = ? AND state = 'queued' RETURNING *
            """)
        guard let job = try Job.fetchOne(statement, arguments: [DatabaseDate.storage(now), provider, seq]) else { return nil }
        try changes.record(db, job, from: .queued, at: now)
        return job
    }

    /// Records how a running job ended, with its artifacts, in one transaction. A job that is no longer
    /// running (cancelled meanwhile) keeps its state and gets no artifacts.
    ///
    /// - Parameters:
    ///   - response: a succeeded job's final response, its `response.json` (see ``Artifact``).
    ///   - artifacts: the others, stored in the artifact table.
    ///   - durability: `.deferred` only for a native job, whose record nobody can come back for after a power
    ///     cut (ADR 0010).
    @discardableResult
    public func finish(
        id: String,
        state: JobState,
        error: String? = nil,
        response: Data? = nil,
        artifacts: [Artifact] = [],
        usage: JobUsage? = nil,
        durability: Durability = .full,
        now: Date = Date()
    ) async throws -> Bool {
        precondition(state.isTerminal, "finish needs a terminal state")
        precondition(response == nil || state == .succeeded, "only a succeeded job has a response")
        let known = running[id]
        let finished = try await write(durability) { db, changes -> Job? in
            try db.cachedStatement(sql: "UPDATE job SET state = ?, error = ?, response = ?, finished_at = ? WHERE id = ? AND state = 'running'")
                .execute(arguments: [state.rawValue, error, response, DatabaseDate.storage(now), id])
            guard db.changesCount == 1 else { return nil }  // no longer running: cancelled or requeued as this run ended
            var job: Job
            if var known {
                (known.state, known.error, known.response, known.finishedAt) = (state, error, response, now)
                job = known
            } else {
                guard var row = try Self.job(db, id: id) else { return nil }
                row.finishedAt = now
                job = row
            }
            job.usage = usage
            for artifact in artifacts { try artifact.insertRow(db) }
            if let row = UsageRow(of: job) { try Self.add(db, row) }
            try changes.record(db, job, from: .running, at: now)
            return job
        }
        if state == .succeeded, let finished, let startedAt = finished.startedAt {
            runTimes.add(now.timeIntervalSince(startedAt), kind: finished.kind)
        }
        return finished != nil
    }

    public func appendArtifactPart(jobID: String, name: String, part: Int, data: Data) async throws {
        try await write(.deferred) { db, _ in
            try ArtifactPart.insert(db, jobID: jobID, name: name, part: part, data: data)
        }
    }

    /// Puts a running job back at its place in the queue (foreman is stopping under it).
    public func requeue(id: String, now: Date = Date()) async throws {
        try await write(.full, placingQueued: true) { db, changes in
            let statement = try db.cachedStatement(sql: "UPDATE job SET state = 'queued', started_at = NULL WHERE id = ? AND state = 'running' RETURNING *")
            guard let job = try Job.fetchOne(statement, arguments: [id]) else { return }
            try changes.record(db, job, from: .running, at: now)
        }
    }

    /// Cancels `id` if it is still queued. Returns `false` when it had already been claimed or had ended.
    public func cancelIfQueued(id: String, reason: String, now: Date = Date()) async throws -> Bool {
        try await write(.full) { db, changes -> Bool in
            let statement = try db.cachedStatement(sql: """
                UPDATE job SET state = 'cancelled', error = ?, finished_at = ? WHERE id = ? AND state = 'queued' RETURNING *
                """)
            guard let job = try Job.fetchOne(statement, arguments: [reason, DatabaseDate.storage(now), id]) else { return false }
            try changes.record(db, job, from: .queued, at: now)
            return true
        }
    }


    /// Settles what a previous process left unfinished.
    ///
    /// Native (`api`) and OpenAI (`openai`) jobs queued or running are failed: their callers' connections died with that process, so
    /// nobody waits for the answer. `/jobs` jobs left running go back to the queue (their attempt was counted
    /// when claimed), unless they have used `maxAttempts`, in which case they fail. Queued `/jobs` jobs keep
    /// their place.
    @discardableResult
    public func recoverAfterRestart(maxAttempts: Int, now: Date = Date()) async throws -> StoreRecovery {
        try await write(.full, placingQueued: true) { db, changes -> StoreRecovery in
            var recovery = StoreRecovery()
            let orphans = try Job.filter([JobState.queued.rawValue, JobState.running.rawValue].contains(Job.Columns.state))
                .order(Job.Columns.seq).fetchAll(db)
            for var job in orphans {
                let previous = job.state
                switch (job.origin, job.state) {
                case (.api, _), (.openai, _):
                    job.state = .failed
                    job.error = "interrupted by restart"
                    job.finishedAt = now
                    recovery.failedNative += 1
                case (.jobs, .running) where job.attempts >= maxAttempts, (.batch, .running) where job.attempts >= maxAttempts:
                    job.state = .failed
                    job.error = "interrupted by restart \(job.attempts) times; giving up after \(maxAttempts) attempts"
                    job.finishedAt = now
                    recovery.exhausted += 1
                case (.jobs, .running), (.batch, .running):
                    job.state = .queued
                    job.startedAt = nil
                    recovery.requeued += 1
                default:
                    continue
                }
                try job.update(db)
                try changes.record(db, job, from: previous, at: now)
            }
            return recovery
        }
    }

    /// Deletes jobs that finished before `cutoff`, with their artifacts and deliveries, in batches.
    @discardableResult
    public func prune(finishedBefore cutoff: Date) async throws -> Int {
        try await prune(finishedBefore: cutoff, batchSize: 500)
    }

    func prune(finishedBefore cutoff: Date, batchSize: Int) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await writer.around { try await pool.write { db in
                try db.execute(
                    sql: """
                        DELETE FROM job WHERE seq IN (
                            SELECT seq FROM job WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT ?)
                        """,
                    arguments: [DatabaseDate.storage(cutoff), batchSize]
                )
                return db.changesCount
            } }
            total += deleted
            if deleted < batchSize { return total }
        }
    }

    // MARK: Reads

    /// The job with this identifier, if any.
    public func job(id: String) async throws -> Job? {
        await settleWritesBehind()
        return try await pool.read { db in try Self.job(db, id: id) }
    }

    /// Job `id` with its artifacts and its place, if the job exists.
    public func snapshot(id: String) async throws -> JobSnapshot? {
        await settleWritesBehind()
        let read = try await pool.read { db -> (Job, [ArtifactInfo])? in
            guard let job = try Self.job(db, id: id) else { return nil }
            return (job, try ArtifactInfo.fetchAll(db, jobID: job.id))
        }
        // Placed here, on the actor, from the current order: a copy of it held across the read would be copied
        // whole by the next write.
        return read.map { view.snapshot($0.0, artifacts: $0.1) }
    }

    /// One page of jobs, newest first, and the cursor of the next page (`nil` on the last page).
    ///
    /// The cursor is the `seq` of the page's last job: rows inserted meanwhile are newer, so they never shift
    /// a page that is being walked.
    public func list(_ filter: JobFilter, limit: Int, before cursor: Int64?) async throws -> (jobs: [JobSnapshot], next: Int64?) {
        await settleWritesBehind()
        let read = try await pool.read { db -> (jobs: [(Job, [ArtifactInfo])], next: Int64?) in
            var request = Job.all()
            if let state = filter.state { request = request.filter(Job.Columns.state == state.rawValue) }
            if let kind = filter.kind { request = request.filter(Job.Columns.kind == kind.rawValue) }
            if let origin = filter.origin { request = request.filter(Job.Columns.origin == origin.rawValue) }
            if let owner = filter.owner { request = request.filter(Job.Columns.owner == owner) }
            if let cursor { request = request.filter(Job.Columns.seq < cursor) }
            let jobs = try request.order(Job.Columns.seq.desc).limit(limit + 1).fetchAll(db)
            let page = Array(jobs.prefix(limit))
            return (try page.map { ($0, try ArtifactInfo.fetchAll(db, jobID: $0.id)) }, jobs.count > limit ? page.last?.seq : nil)
        }
        let view = self.view
        return (read.jobs.map { view.snapshot($0.0, artifacts: $0.1) }, read.next)
    }

    /// The listing of a job's artifacts, or `nil` if the job does not exist.
    public func artifacts(jobID: String) async throws -> [ArtifactInfo]? {
        await settleWritesBehind()
        return try await pool.read { db in
            guard try Job.filter(Job.Columns.id == jobID).fetchCount(db) == 1 else { return nil }
            return try ArtifactInfo.fetchAll(db, jobID: jobID)
        }
    }

    /// One artifact with its bytes.
    public func artifact(jobID: String, name: String) async throws -> Artifact? {
        await settleWritesBehind()
        return try await pool.read { db in try Artifact.fetchOne(db, jobID: jobID, name: name) }
    }

    // MARK: Writes

    /// What the store knows in memory about the queue, for rendering positions and estimates.
    var view: QueueView { QueueView(tally: tally, runTimes: runTimes, order: order) }

    /// How a write waits for the disk (ADR 0010).
    /// A write transaction whose state changes are recorded in the webhook outbox (see ``StateChanges``);
    /// after the commit the outbox is woken if any event was added, and each change is counted and logged.
    ///
    /// - Parameter onWriterQueue: commit on the writer's queue even when the writer is free. A group commit of
    ///   submissions asks for it: its SQL is most of a millisecond, which this actor would otherwise spend instead of
    ///   gathering the next group.
    func write<T: Sendable>(
        _ durability: Durability,
        placingQueued: Bool = false,
        onWriterQueue: Bool = false,
        _ body: @escaping @Sendable (Database, inout StateChanges) throws -> T
    ) async throws -> T {
        // The transaction renders webhook documents from this view. Only a job that goes back to the queue needs the
        // order for its place; any other write leaves it out, so that the order is never shared with a transaction
        // in flight (a full commit suspends here) and moving it after the commit never copies it.
        var current = self.view
        if !placingQueued { current.order = QueueOrder() }
        let view = current
        let pool = self.pool
        // A full write commits as a deferred one, then waits for an fsync of the WAL made off the writer, which is
        // free for the next write meanwhile (ADR 0024).
        let walSync = durability == .full ? self.walSync : nil
        let commitDurability = walSync == nil ? durability : .deferred
        let standing = writerStanding
        // On the writer's own thread: a wait there (for fsync, or another process's lock) holds no other thread.
        let commitOnWriterQueue = {
            try await self.writer.around {
                try await pool.writeWithoutTransaction { db in try Self.commit(db, commitDurability, standing, view, body) }
            }
        }
        let (value, changes): (T, StateChanges)
        do {
            if commitDurability == .deferred, !onWriterQueue, !writer.isBusy {
                // Only CPU work: done on this thread. Hopping to the writer's queue and back cost more than the commit
                // itself (ADR 0010), and no other write holds the writer now. If another process holds the lock,
                // `commitHere` fails at once and the commit waits on the writer's queue instead (ADR 0013).
                do {
                    (value, changes) = try Self.commitHere(pool, standing, view, body)
                } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                    (value, changes) = try await commitOnWriterQueue()
                }
            } else {
                // A full commit; or a deferred one that finds the writer held by another write (a prune, another
                // process's lock).
                (value, changes) = try await commitOnWriterQueue()
            }
        } catch {
            noteWriteFailed(error)
            throw error
        }
        var tally = self.tally
        for transition in changes.transitions {
            tally.move(transition.job, from: transition.from)
            order.move(transition.job, from: transition.from)
            running[transition.job.id] = transition.job.state == .running ? transition.job : nil
            observer.entered(transition.job, from: transition.from)
        }
        self.tally = tally
        if let walSync {
            // The change is committed, and moved the tally with it, in commit order. Nobody is told of it (the
            // caller, the webhook outbox) until it is on disk.
            do {
                try await walSync.sync()
            } catch {
                noteWriteFailed(error)
                throw error
            }
        }
        noteWriteSucceeded()
        if changes.addedEvents { outboxChanged() }
        return value
    }

    /// Logs a failed write once per kind of failure, and shows it on ``health``.
    func noteWriteFailed(_ error: any Error) {
        guard let failure = StoreFailure(error) else { return }
        if health.failure != failure { logger.error("database write failed", metadata: ["reason": "\(failure)", "error": "\(error)"]) }
        health.setFailure(failure)
    }

    func noteWriteSucceeded() {
        guard health.failure != nil else { return }
        logger.notice("database writes succeed again")
        health.setFailure(nil)
    }

    /// A write outside the queue's state changes (keys, files, batches, deliveries), on disk when it returns: committed
    /// on the writer's queue, then, with the writer standing at NORMAL, covered by the WAL's next fsync (ADR 0041).
    nonisolated func writeDurably<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let value = try await writer.around { try await pool.write(body) }
        try await walSync?.sync()
        return value
    }

    /// A deferred commit on the calling thread (GRDB's synchronous access; from an async function the compiler
    /// would pick the asynchronous one).
    private static func commitHere<T>(
        _ pool: DatabasePool,
        _ standing: Durability,
        _ view: QueueView,
        _ body: (Database, inout StateChanges) throws -> T
    ) throws -> (T, StateChanges) {
        try pool.writeWithoutTransaction { db in
            // No busy wait here: if another process holds the lock, `BEGIN IMMEDIATE` fails at once with
            // SQLITE_BUSY and the caller waits on the writer's queue instead.
            sqlite3_busy_timeout(db.sqliteConnection, 0)
            defer { sqlite3_busy_timeout(db.sqliteConnection, ForemanDatabase.busyTimeoutMilliseconds) }
            return try commit(db, .deferred, standing, view, body)
        }
    }

    /// Runs `body` in one immediate transaction on the writer connection, at `durability`, the connection standing at
    /// `standing` between writes (``writerStanding``).
    static func commit<T>(
        _ db: Database,
        _ durability: Durability,
        _ standing: Durability,
        _ view: QueueView,
        _ body: (Database, inout StateChanges) throws -> T
    ) throws -> (T, StateChanges) {
        precondition(standing == .full || durability == .deferred, "a writer standing at NORMAL commits deferred only")
        // A writer that stands at FULL is lowered for a deferred commit only. Setting `synchronous` costs a compile of
        // the statement each time (SQLite applies the pragma as it compiles it), which is why it is never set per
        // commit when ``WALSync`` keeps the writer at NORMAL.
        let lowers = durability == .deferred && standing == .full
        if lowers { try db.cachedStatement(sql: "PRAGMA synchronous = NORMAL").execute() }
        // `BEGIN` and `COMMIT` are kept statements too: GRDB's `inTransaction` compiles both on every call.
        let outcome = Result {
            try db.cachedStatement(sql: "BEGIN IMMEDIATE").execute()
            do {
                var changes = StateChanges(view: view)
                let value = try body(db, &changes)
                try db.cachedStatement(sql: "COMMIT").execute()
                return (value, changes)
            } catch {
                // The first error is the one to report; a failed rollback leaves SQLite to roll back on close.
                if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
                throw error
            }
        }
        if lowers { try db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute() }
        return try outcome.get()
    }
}

/// Collects a transaction's state changes: each one inserts the job's webhook event (when it has a webhook URL)
/// in the same transaction, so an event can never be lost between the change and its delivery.
struct StateChanges: Sendable {
    /// The store's view as it was when the transaction began, moved by each change recorded so far.
    private(set) var view: QueueView
    private(set) var addedEvents = false
    /// Every job whose state changed, as it stands after the change, and its state before (nil: new), for the
    /// store's tally, metrics and logs after the commit.
    private(set) var transitions: [(job: Job, from: JobState?)] = []

    init(view: QueueView) {
        self.view = view
    }

    /// Records a job just inserted, and returns where it stands: last of its priority in its lane.
    mutating func recordNew(_ db: Database, _ job: Job) throws -> JobPlacement {
        guard JobTransition(from: nil, to: job.state) != nil else { throw IllegalTransition(jobID: job.id, from: nil, to: job.state) }
        view.tally.move(job, from: nil)
        transitions.append((job, nil))
        let placement = view.placementOfNewest(job, now: job.createdAt)
        try addEvent(db, job, at: job.createdAt) {
            JobDocument.render(job, queuePosition: placement.position, estimatedStartAt: placement.estimatedStartAt, artifacts: [])
        }
        return placement
    }

    /// Records `job`'s current state, which it entered from `old`.
    mutating func record(_ db: Database, _ job: Job, from old: JobState, at now: Date) throws {
        guard JobTransition(from: old, to: job.state) != nil else { throw IllegalTransition(jobID: job.id, from: old, to: job.state) }
        view.tally.move(job, from: old)
        transitions.append((job, old))
        let view = self.view
        try addEvent(db, job, at: now) { try JobDocument.render(db, job, view: view, now: now) }
    }

    /// Inserts the job's webhook event, when it has a webhook URL; `document` renders the event's `data`.
    private mutating func addEvent(_ db: Database, _ job: Job, at now: Date, _ document: () throws -> String) throws {
        guard let url = job.stateWebhookURL else { return }
        let payload = #"{"type":"job.state_changed","timestamp":"# + JSONObjectWriter.quoted(Timestamp.string(now))
            + #","data":"# + (try document()) + "}"
        var delivery = WebhookDelivery(
            webhookID: "msg_" + JobID.make(now: now).dropFirst("job_".count),
            jobID: job.id,
            batchID: nil,
            url: url,
            endpoint: WebhookEndpoint.of(url),
            payload: Data(payload.utf8),
            state: .pending,
            attempts: 0,
            createdAt: now,
            nextAttemptAt: now
        )
        try delivery.insert(db)
        addedEvents = true
    }
}

/// Why the store refused a write.
public enum JobStoreError: Error, Equatable {
    /// ``JobStore/queueDepth`` reached `FOREMAN_MAX_QUEUE`.
    case queueFull
    /// The idempotency key was used before with a different body; carries the original job.
    case idempotencyKeyReused(Job)
}
