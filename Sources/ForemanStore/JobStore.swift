import ForemanDomain
import Foundation

/// The durable queue as the engine sees it: a narrow set of verbs over jobs, their artifacts and the webhook outbox.
///
/// Every write foreman makes goes through one of these. A write changes state only by a transition
/// ``JobTransition`` lists, conditionally, so two writers can never both move one job. Each committed change is
/// reported to the store's ``JobTransitionObserver``, and an event for the job's webhook is written in the same
/// transaction. ``SQLiteJobStore`` is the implementation; nothing here names SQLite, so another database can fill
/// the same seam.
public protocol JobStore: Sendable {
    /// Queue depth and the store's condition, readable without waiting for the store.
    var health: StoreHealth { get }

    // MARK: Writes

    /// Persists a queued job; with `idempotencyKey`, returns the original job instead when the key was used with the
    /// same `fingerprint`. Throws ``JobStoreError``.
    func enqueue(_ job: Job, idempotencyKey: String?, fingerprint: String?) async throws -> EnqueueResult
    /// The job a submission with `idempotencyKey` made before, as ``enqueue(_:idempotencyKey:fingerprint:)`` would
    /// replay it; `nil` when the key is new. Throws ``JobStoreError/idempotencyKeyReused(_:)`` for another body.
    func replay(idempotencyKey: String, fingerprint: String?) async throws -> EnqueueResult?
    /// Takes a native job as it stands now, to be written behind its call (ADR 0016); returns without waiting for a
    /// commit. Reads made afterwards see it.
    func writeBehind(_ job: Job) async
    /// Takes an embeddings call's usage, to be committed with the next rows written behind (ADR 0022).
    func writeUsageBehind(_ row: UsageRow) async
    /// Commits the native jobs handed to ``writeBehind(_:)`` so far. Throws when the store cannot write; they stay.
    func flushWritesBehind() async throws
    /// Marks the chat or generate job the ``Scheduler`` picks running; `nil` when none waits. With a `scope`, only
    /// the jobs it admits are seen, and the job records the scope's provider as the one it runs on.
    func claimNext(chatSlot: String?, policy: Scheduler.Policy, scope: ClaimScope?, now: Date) async throws -> Job?
    /// Marks the oldest embed job of the highest priority running (within `scope`, as ``claimNext``); `nil` when
    /// none waits.
    func claimNextEmbed(scope: ClaimScope?, now: Date) async throws -> Job?
    /// Records how a running job ended, with its artifacts; `false` when it was no longer running.
    func finish(
        id: String, state: JobState, error: String?, response: Data?, artifacts: [Artifact], usage: JobUsage?, durability: Durability, now: Date
    ) async throws -> Bool
    /// Writes part `part` of running job `jobID`'s artifact `name` as it streams (ADR 0024); part 0 replaces an
    /// earlier attempt's parts. Deferred: the job's finish, a full write, puts it on disk.
    func appendArtifactPart(jobID: String, name: String, part: Int, data: Data) async throws
    /// Puts a running job back at its place in the queue.
    func requeue(id: String, now: Date) async throws
    /// Cancels `id` if it is still queued; `false` when it had been claimed or had ended.
    func cancelIfQueued(id: String, reason: String, now: Date) async throws -> Bool
    /// Generations queued or running in the store for `model` (normalized) that provider `provider` runs or may run:
    /// the ones bound to it, and the unbound ones not running elsewhere (ADR 0023: a delete's guard).
    func generationsInFlight(model: String, provider: String) async throws -> Int
    /// The first `limit` queued jobs of `lane` in the order they are to run, with their places and estimated starts.
    func queuedInOrder(lane: JobLane, limit: Int) async throws -> [JobSnapshot]
    /// Cancels every queued job of key `owner`, with `error`; how many (ADR 0022).
    func cancelQueuedJobs(owner: String, error: String, now: Date) async throws -> Int
    /// Settles what a previous process left unfinished.
    func recoverAfterRestart(maxAttempts: Int, now: Date) async throws -> StoreRecovery
    /// Deletes jobs that finished before `cutoff`, with their artifacts and deliveries; returns how many.
    func prune(finishedBefore cutoff: Date) async throws -> Int

    // MARK: Reads

    func job(id: String) async throws -> Job?
    /// Job `id` with its artifacts and its place, or `nil` when there is none.
    func snapshot(id: String) async throws -> JobSnapshot?
    /// A page of jobs, newest first, and the cursor of the next page.
    func list(_ filter: JobFilter, limit: Int, before cursor: Int64?) async throws -> (jobs: [JobSnapshot], next: Int64?)
    /// Queued jobs of `lane` with a priority above `priority`.
    func queuedAbove(priority: Int, in lane: JobLane) async -> Int
    func artifacts(jobID: String) async throws -> [ArtifactInfo]?
    func artifact(jobID: String, name: String) async throws -> Artifact?

    // MARK: The webhook outbox

    /// The due events of the endpoints asked about, each job's oldest pending one first (ADR 0015).
    func dueDeliveries(asks: [OutboxAsk], known: Set<String>, fresh: Int, after seen: Int64, now: Date) async throws -> OutboxRead
    /// Records one delivery attempt; with `givingUpBefore`, gives up the endpoint's older pending events too.
    func recordAttempt(_ delivery: WebhookDelivery, givingUpBefore cutoff: Date?) async throws -> Int
}

extension JobStore {
    public func enqueue(_ job: Job) async throws -> EnqueueResult {
        try await enqueue(job, idempotencyKey: nil, fingerprint: nil)
    }

    public func claimNext(chatSlot: String?, policy: Scheduler.Policy, scope: ClaimScope? = nil) async throws -> Job? {
        try await claimNext(chatSlot: chatSlot, policy: policy, scope: scope, now: Date())
    }

    public func claimNextEmbed(scope: ClaimScope? = nil) async throws -> Job? {
        try await claimNextEmbed(scope: scope, now: Date())
    }

    @discardableResult
    public func finish(
        id: String, state: JobState, error: String? = nil, response: Data? = nil, artifacts: [Artifact] = [], usage: JobUsage? = nil,
        durability: Durability = .full
    ) async throws -> Bool {
        try await finish(id: id, state: state, error: error, response: response, artifacts: artifacts, usage: usage, durability: durability, now: Date())
    }

    public func requeue(id: String) async throws {
        try await requeue(id: id, now: Date())
    }

    public func cancelIfQueued(id: String, reason: String) async throws -> Bool {
        try await cancelIfQueued(id: id, reason: reason, now: Date())
    }

    @discardableResult
    public func recoverAfterRestart(maxAttempts: Int) async throws -> StoreRecovery {
        try await recoverAfterRestart(maxAttempts: maxAttempts, now: Date())
    }
}
