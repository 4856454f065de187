import ForemanDomain
import ForemanStore
import Foundation
import Logging

/// What the surfaces (native `/api/*`, `/jobs`, `/healthz`) call, and the only thing they call: submit, watch,
/// cancel and read jobs. The store and the workers behind it are its own.
///
/// It keeps the ordering that makes waiting safe: subscribe to the job's events, then commit the row,
/// then wake the worker; and for cancellation: cancel in the store if still queued, else abort the run.
public struct JobService: Sendable {
    let store: any JobStore
    let broker: JobBroker
    /// The boxes the jobs run on.
    public let fleet: Fleet
    /// Each key's generations in flight and tokens today (ADR 0022).
    public let ledger: KeyLedger
    /// Each key's usage by model and day.
    let usageStore: (any UsageStore)?
    private let logger: Logger

    public init(store: any JobStore, broker: JobBroker, fleet: Fleet, ledger: KeyLedger = KeyLedger(), usage: (any UsageStore)? = nil, logger: Logger) {
        self.store = store
        self.broker = broker
        self.fleet = fleet
        self.ledger = ledger
        self.usageStore = usage
        self.logger = logger
    }

    /// Ollama's model management on the boxes (ADR 0023).
    public var models: ModelManager { ModelManager(fleet: fleet, store: store) }

    /// Every worker of every provider, generation workers first.
    private var workers: [Worker] { fleet.providers.map(\.generationWorker) + fleet.providers.map(\.embeddingsWorker) }

    // MARK: Submissions

    /// The job for a native `/api/chat` or `/api/generate` call, once its model is known: interactive priority, the
    /// body as the caller sent it, and the provider it will run on (routed now, ADR 0017).
    ///
    /// - Throws: ``JobServiceError/modelNotFound(_:)``.
    public func nativeJob(kind: JobKind, model: String, stream: Bool, request: Data, caller: APIKey = .bootstrap) async throws -> Job {
        try await interactiveJob(origin: .api, kind: kind, model: model, stream: stream, request: request, caller: caller).job
    }

    /// The job for a `/v1/chat/completions` or `/v1/completions` call (ADR 0019), as ``nativeJob(kind:model:stream:request:)``
    /// makes a native one. For an Ollama box `asNative` translates the call now, given the box's model name: a bad
    /// body is refused before it waits, and the worker sends the translation without making it again.
    ///
    /// - Throws: ``JobServiceError/modelNotFound(_:)``, `TranslationError` (the caller's 400).
    public func openAIJob(
        kind: JobKind, model: String, stream: Bool, request: Data, caller: APIKey = .bootstrap, asNative: (_ boxModel: String) throws -> Data
    ) async throws -> (job: Job, providerKind: ProviderKind) {
        var (job, provider) = try await interactiveJob(origin: .openai, kind: kind, model: model, stream: stream, request: request, caller: caller)
        if provider.kind == .ollama { job.preparedRequest = try asNative(job.model) }
        return (job, provider.kind)
    }

    /// The job for a `/v1/messages` or `/v1/responses` call (ADR 0019): routed like any other, and sent to the box
    /// as it came.
    ///
    /// - Throws: ``JobServiceError/modelNotFound(_:)``.
    public func relayedJob(kind: JobKind, model: String, stream: Bool, request: Data, caller: APIKey = .bootstrap) async throws -> Job {
        precondition(kind.isRelayed, "only the relayed kinds go to the box as they came")
        return try await interactiveJob(origin: .openai, kind: kind, model: model, stream: stream, request: request, caller: caller).job
    }

    /// A job for a caller who waits on its connection, routed now: the job, and the provider it will run on.
    private func interactiveJob(
        origin: JobOrigin, kind: JobKind, model: String, stream: Bool, request: Data, caller: APIKey
    ) async throws -> (job: Job, provider: Provider) {
        let route = try await fleet.route(model)
        var job = Job(
            kind: kind, origin: origin, model: route.model, provider: route.bound ? route.provider.name : nil, priority: Job.interactivePriority,
            request: request, stream: stream
        )
        job.ranOn = route.provider.name
        job.owner = caller.ownerID
        if let ceiling = caller.priorityCeiling { job.priority = min(job.priority, ceiling) }
        return (job, route.provider)
    }

    /// Persists a `/jobs` submission. With an `Idempotency-Key`, a repeat of the same body returns the original job
    /// and a different body is refused (``JobStoreError/idempotencyKeyReused(_:)``).
    ///
    /// - Throws: ``JobServiceError/modelNotFound(_:)``, ``JobStoreError``.
    /// The key is `caller`'s alone: another key's same `Idempotency-Key` is another job (ADR 0022).
    public func submit(_ submission: JobSubmission, body: Data, idempotencyKey: String?, caller: APIKey = .bootstrap) async throws -> EnqueueResult {
        // A bare name is not bound: the first provider with a free slot that has the model claims it (ADR 0017).
        let route = try await fleet.route(submission.model)
        var job = Job(
            kind: submission.kind,
            origin: .jobs,
            model: route.bound ? route.model : submission.model,
            provider: route.bound ? route.provider.name : nil,
            priority: submission.priority,
            request: submission.request,
            stream: submission.stream,
            metadata: submission.metadata,
            stateWebhookURL: submission.stateWebhookURL
        )
        job.owner = caller.ownerID
        // Above the key's ceiling, the job is kept at the ceiling (ADR 0022).
        if let ceiling = caller.priorityCeiling { job.priority = min(job.priority, ceiling) }
        let fingerprint = idempotencyKey.map { _ in RequestFingerprint.of(body) }
        let scopedKey = idempotencyKey.map { key in caller.ownerID.map { $0 + ":" + key } ?? key }
        let reservation: Reservation?
        do {
            reservation = try reserve(job, for: caller)
        } catch {
            // A repeat of a submission already made takes no place: it is answered with the original job.
            if let scopedKey, let replay = try await store.replay(idempotencyKey: scopedKey, fingerprint: fingerprint) { return replay }
            throw error
        }
        do {
            let result = try await submit(job, idempotencyKey: scopedKey, fingerprint: fingerprint)
            // A replay made no job: the original holds its own place.
            if case .existing = result { reservation?.cancel() }
            return result
        } catch {
            reservation?.cancel()
            throw error
        }
    }

    /// Counts `job` against its key's concurrency cap (ADR 0022), before anything is written: what to cancel if it
    /// is not admitted after all. Its end, reported to the ``KeyLedgerObserver``, releases it.
    ///
    /// - Throws: ``JobServiceError/overConcurrencyCap(key:cap:)``.
    private func reserve(_ job: Job, for caller: APIKey) throws -> Reservation? {
        guard KeyLedger.counts(job), let owner = job.owner else { return nil }
        guard ledger.reserve(owner: owner, cap: caller.maxConcurrent) else {
            ledger.refused(caller, limit: "concurrency")
            throw JobServiceError.overConcurrencyCap(key: caller.name, cap: caller.maxConcurrent ?? 0)
        }
        return Reservation(ledger: ledger, owner: owner)
    }

    /// A generation counted against its key's cap before it was admitted.
    private struct Reservation {
        let ledger: KeyLedger
        let owner: String

        /// The generation was not admitted after all.
        func cancel() { ledger.release(owner: owner) }
    }

    /// Whether a native call whose wait bound has passed, before any output, should end now. A call the target is
    /// already working on (loading its model, or generating an answer it does not stream) is left alone while the
    /// target is reachable: the bound covers the wait in the queue, not the generation.
    public func waitBoundEnds(_ id: String) async -> Bool {
        for provider in fleet.providers {
            if await provider.generationWorker.isRunning(id) { return await provider.inventory.snapshot.degraded }
            if await provider.embeddingsWorker.isRunning(id) { return await provider.inventory.snapshot.degraded }
        }
        return true
    }

    /// Admits native call `job` and returns its event stream, with where it stood once admitted. Nothing is committed
    /// on the way (ADR 0016): the call starts at once when the lane is free, else it waits in its provider's worker.
    ///
    /// - Throws: ``JobStoreError/queueFull`` when the queue is full (nothing is kept).
    public func submitAndWatch(_ job: Job, caller: APIKey = .bootstrap) async throws -> (watch: JobWatch, placement: JobPlacement) {
        let reservation = try reserve(job, for: caller)
        let watch = broker.subscribe(job.id)
        do {
            guard let provider = job.ranOn.flatMap(fleet.provider(named:)) ?? fleet.providers.first else { throw JobStoreError.queueFull }
            return (watch, try await provider.worker(for: job.kind).admit(job, events: watch.events))
        } catch {
            reservation?.cancel()
            broker.unsubscribe(job.id)
            throw error
        }
    }

    /// The usage rows from day `from` to day `to`, of key `keyID` or of all (ADR 0022).
    public func usage(from: UTCDay?, to: UTCDay?, keyID: String?) async throws -> [UsageRow] {
        try await usageStore?.usage(from: from, to: to, keyID: keyID) ?? []
    }

    /// Adds an embeddings call's usage (ADR 0022): the call bypasses the queue and has no row, so its usage is
    /// counted here and written behind with the native calls' rows.
    public func recordEmbeddingUsage(_ usage: JobUsage, model: String, caller: APIKey) async {
        let day = UTCDay(Date())
        ledger.add(usage, owner: caller.ownerID, on: day)
        await store.writeUsageBehind(UsageRow(keyID: caller.id, model: model, day: day, usage: usage))
    }

    /// The work in line at each provider, running and queued, in the order it is to run: at most `limit` queued
    /// per lane and provider, of key `owner` alone when it is given (ADR 0023).
    public func queue(limit: Int, owner: String?) async throws -> [QueueLine] {
        func visible(_ job: Job) -> Bool { owner == nil || job.owner == owner }
        var lines: [QueueLine] = []
        var byName: [String: Int] = [:]
        for provider in fleet.providers {
            var running: [JobSnapshot] = []
            var queued: [JobSnapshot] = []
            for worker in [provider.generationWorker, provider.embeddingsWorker] {
                running += await worker.running.filter(visible).map { JobSnapshot(job: $0) }
                queued += await worker.waitingCallsNewestFirst().reversed().filter { visible($0.job) }
                    .map { JobSnapshot(job: $0.job, queuePosition: $0.position) }
            }
            byName[provider.name] = lines.count
            lines.append(QueueLine(provider: provider.name, running: running, queued: queued))
        }
        var unassigned: [JobSnapshot] = []
        for lane in [JobLane.generation, .embeddings] {
            // Read past `limit` when another key's jobs are left out, so a key still sees its own.
            for snapshot in try await store.queuedInOrder(lane: lane, limit: owner == nil ? limit * lines.count : 10_000) where visible(snapshot.job) {
                let name = snapshot.job.provider ?? (fleet.namesProviders ? nil : fleet.providers.first?.name)
                if let name, let index = byName[name] { lines[index].queued.append(snapshot) } else { unassigned.append(snapshot) }
            }
        }
        for index in lines.indices {
            // Generations, then embeddings; higher priorities first, then age: the order the scheduler starts from.
            lines[index].queued.sort { a, b in
                let (laneA, laneB) = (a.job.kind.lane == .generation ? 0 : 1, b.job.kind.lane == .generation ? 0 : 1)
                return (laneA, -a.job.priority, a.job.createdAt) < (laneB, -b.job.priority, b.job.createdAt)
            }
            lines[index].queued = Array(lines[index].queued.prefix(limit))
        }
        if fleet.namesProviders { lines.append(QueueLine(provider: nil, running: [], queued: Array(unassigned.prefix(limit)))) }
        return lines
    }

    /// Cancels the queued jobs of key `owner`, which was revoked (ADR 0022); how many. Its running jobs finish.
    public func cancelQueuedWork(of owner: String) async throws -> Int {
        try await store.cancelQueuedJobs(owner: owner, error: "key revoked", now: Date())
    }

    /// Wakes every worker to look for queued jobs: a batch's jobs were committed (ADR 0020).
    public func wakeWorkers() {
        for worker in workers { worker.wake() }
    }

    /// Persists a `/jobs` job nobody waits for on a connection.
    func submit(_ job: Job, idempotencyKey: String?, fingerprint: String?) async throws -> EnqueueResult {
        let result = try await store.enqueue(job, idempotencyKey: idempotencyKey, fingerprint: fingerprint)
        if case .created = result {
            for provider in fleet.providers where job.provider == nil || job.provider == provider.name { provider.worker(for: job.kind).wake() }
        }
        return result
    }

    /// What ``cancelAndWait(_:)`` found.
    public enum CancelResult: Sendable {
        case notFound
        /// The job is `cancelled` (now, or it already was).
        case cancelled
        /// The job had already succeeded or failed.
        case alreadyFinished
    }

    /// Cancels job `id` and returns once its cancellation is committed (a running job's upstream request is
    /// aborted first). Cancelling a cancelled job is harmless.
    public func cancelAndWait(_ id: String) async throws -> CancelResult {
        for worker in workers where await worker.cancelWaiting(id, reason: .requested) { return .cancelled }
        var found: Job?
        for worker in workers where found == nil { found = await worker.runningCall(id) }
        if found == nil { found = try await store.job(id: id) }
        guard let job = found else { return .notFound }
        switch job.state {
        case .cancelled: return .cancelled
        case .succeeded, .failed: return .alreadyFinished
        case .queued, .running: break
        }
        if try await cancelIfQueued(id, reason: .requested) { return .cancelled }
        let ended = broker.endSignal(id)
        if await cancelRunning(id, kind: job.kind, reason: .requested) {
            for await _ in ended {}
        } else {
            broker.forgetEndSignals(id)
        }
        return try await store.job(id: id)?.state == .cancelled ? .cancelled : .alreadyFinished
    }

    /// Cancels `id`: a queued job never reaches the target, a running one has its upstream request aborted.
    /// Cancelling an ended job does nothing.
    public func cancel(_ id: String, reason: CancelReason) async {
        // A native call is held by its worker, waiting or running, and has no queued row: no write is needed.
        for worker in fleet.providers.map(\.generationWorker) where await worker.cancelHeld(id, reason: reason) { return }
        // If the row could not be updated the job may still be running, so fall through to the workers.
        if (try? await cancelIfQueued(id, reason: reason)) == true { return }
        for worker in workers where await worker.cancelRunning(id, reason: reason) { return }
    }

    /// Cancels `id` at the worker of its lane that runs it, whichever provider that is.
    private func cancelRunning(_ id: String, kind: JobKind, reason: CancelReason) async -> Bool {
        for provider in fleet.providers where await provider.worker(for: kind).cancelRunning(id, reason: reason) { return true }
        return false
    }

    /// Stops taking work and lets the running jobs end (foreman is stopping): native calls still waiting are
    /// cancelled, and both workers drain within `grace` (ADR 0009).
    public func drain(grace: Duration) async {
        await withTaskGroup(of: Void.self) { drains in
            for worker in workers { drains.addTask { await worker.drain(grace: grace) } }
        }
    }

    // MARK: Reads

    /// Whether job `id` is being run now.
    public func isRunning(_ id: String) async -> Bool {
        for worker in workers where await worker.isRunning(id) { return true }
        return false
    }

    /// The store's condition, read without waiting for the database.
    public var health: StoreHealth { store.health }

    /// Jobs waiting to run: the store's queue and the native calls waiting in memory, read without waiting for
    /// either.
    public var queueDepth: Int { fleet.providers.reduce(store.health.queueDepth) { $0 + $1.generationWorker.waitingCalls } }

    /// Job `id` with its artifacts and its place, or `nil` when there is none.
    public func snapshot(id: String) async throws -> JobSnapshot? {
        for provider in fleet.providers {
            let worker = provider.generationWorker
            if let (job, position) = await worker.waitingCall(id) { return JobSnapshot(job: job, queuePosition: position) }
            if let job = await worker.runningCall(id) { return JobSnapshot(job: job) }
        }
        return try await store.snapshot(id: id)
    }

    /// A page of jobs, newest first, and the cursor of the next page. The first page begins with the native calls in
    /// memory that match, waiting then running (they have no row until they end, and are the newest there are).
    public func list(_ filter: JobFilter, limit: Int, before cursor: Int64?) async throws -> (jobs: [JobSnapshot], next: Int64?) {
        var inMemory: [JobSnapshot] = []
        if cursor == nil {
            var waiting: [(job: Job, position: Int)] = []
            var running: [Job] = []
            for provider in fleet.providers {
                waiting += await provider.generationWorker.waitingCallsNewestFirst()
                running += await provider.generationWorker.runningCallsNewestFirst
            }
            for (job, position) in waiting.sorted(by: { $0.job.createdAt > $1.job.createdAt }) where filter.matches(job) && inMemory.count < limit {
                inMemory.append(JobSnapshot(job: job, queuePosition: position))
            }
            for job in running.sorted(by: { $0.createdAt > $1.createdAt }) where filter.matches(job) && inMemory.count < limit {
                inMemory.append(JobSnapshot(job: job))
            }
        }
        guard inMemory.count < limit else { return (inMemory, .max) }
        let page = try await store.list(filter, limit: limit - inMemory.count, before: cursor)
        return (inMemory + page.jobs, page.next)
    }

    /// The artifacts of job `id`, or `nil` when there is no such job.
    public func artifacts(jobID: String) async throws -> [ArtifactInfo]? {
        try await store.artifacts(jobID: jobID)
    }

    /// One artifact of job `id`.
    public func artifact(jobID: String, name: String) async throws -> Artifact? {
        try await store.artifact(jobID: jobID, name: name)
    }

    /// Cancels `id` in the store if it is still queued, and tells whoever waits for it.
    private func cancelIfQueued(_ id: String, reason: CancelReason) async throws -> Bool {
        guard try await store.cancelIfQueued(id: id, reason: reason.rawValue) else { return false }
        logger.info("job cancelled while queued", metadata: ["job": "\(id)", "reason": "\(reason.rawValue)"])
        broker.finish(id, .cancelled(reason))
        return true
    }
}
