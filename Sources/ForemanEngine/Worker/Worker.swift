import ForemanDomain
import ForemanStore
import ForemanTarget
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Drains one lane of one provider (ADR 0008): what the lane claims and how its jobs reach the box is its
/// ``WorkerLane``. ``GenerationLane`` runs one chat or generate job at a time, so the box runs one generation at a
/// time whatever the callers do; ``EmbeddingJobsLane`` runs `/jobs` embed jobs beside it, a few at a time.
///
/// Two queues feed the generation lane: the durable one in the store, and the native calls waiting here, in memory,
/// whose rows are written behind them (ADR 0016). The lane's ``GenerationSlots`` are the one place that decides who
/// runs: whoever starts a run holds a slot for as long as the box works on it.
///
/// While the target is unreachable a claimed job stays at the head of the queue and is retried with capped
/// backoff; queue time never counts against the upstream timeout because the timeout only starts at `send`.
public actor Worker: Service {
    /// How long to wait between attempts to reach an unreachable target.
    public struct RetryPolicy: Sendable, Equatable {
        public var initial: Duration = .milliseconds(250)
        public var maximum: Duration = .seconds(10)
        /// `FOREMAN_MAX_ATTEMPTS`: sends of one job the target may fail (drop, or for `/jobs` answer 429 or 5xx, or
        /// break off mid-stream) before the job fails. An unreachable target is waited for, not counted.
        public var maxAttempts = 3
        public init() {}
    }

    /// A run under way. It holds its lane's slot until the box is done with it, and stays listed until its outcome
    /// is recorded.
    private struct Run {
        let job: Job
        let task: Task<JobResult, Never>
        var slot: GenerationSlot?
        /// A native call as it ended, while its outcome is recorded: reads see the end, not the run.
        var ended: Job?
    }

    /// When each key last had a waiting native call started, as a count of starts: the scheduler's turns among
    /// waiting calls (ADR 0022).
    private var callsLastStarted: [String: Int64] = [:]
    private var callStarts: Int64 = 0

    /// A native call waiting in memory for the slot, with what the ``Scheduler`` keeps about it.
    private struct WaitingCall {
        var job: Job
        /// Its place in arrival order: the scheduler's age.
        var order: Int64
        var skips = 0
        var firstSkippedAt: Date?

        var candidate: Scheduler.Candidate {
            Scheduler.Candidate(seq: order, model: job.model, priority: job.priority, skips: skips, firstSkippedAt: firstSkippedAt, owner: job.owner)
        }
    }

    private let store: any JobStore
    private let inventory: Inventory
    private let recorder: JobRecorder
    private let broker: JobBroker
    private let lane: any WorkerLane
    private let retry: RetryPolicy
    private let maxQueue: Int
    private let observer: any JobTransitionObserver
    private let metrics: ForemanMetrics
    private let logger: Logger
    private let wakeup = Wakeup()
    private var runs: [String: Run] = [:]
    private var cancelReasons: [String: CancelReason] = [:]
    /// Who may start a run: a claim, a waiting native call or ``admit(_:)`` takes a slot first, and draining closes
    /// them.
    private let slots: GenerationSlots
    private var waiting: [WaitingCall] = []
    private var arrivals: Int64 = 0
    /// A job claimed from the store that waits for the slot: a native call took it during the claim.
    private var claimedAhead: Job?
    /// A claim is under way: the run loop and a finished run (``claimBeforeRecording()``) make one at a time.
    private var claiming = false
    /// A run just started, for the task that completes it.
    private typealias StartedRun = (job: Job, task: Task<JobResult, Never>)
    /// How many native calls wait in memory, for readers that must not wait for this actor (`/healthz`).
    private let waitingCount = Atomic<Int>(0)
    /// How many runs hold the box, for the same readers (a fleet's routing).
    private let runningCount = Atomic<Int>(0)
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []

    /// - Parameters:
    ///   - maxQueue: the bound on jobs waiting, the store's and the native calls here together.
    ///   - observer: told of the state changes of the native calls this worker runs (the store tells it of the rest).
    public init(
        store: any JobStore,
        inventory: Inventory,
        broker: JobBroker,
        lane: any WorkerLane,
        retry: RetryPolicy = RetryPolicy(),
        maxQueue: Int = .max,
        observer: any JobTransitionObserver = IgnoringTransitions(),
        metrics: ForemanMetrics = .disabled,
        logger: Logger
    ) {
        self.metrics = metrics
        self.store = store
        self.inventory = inventory
        self.broker = broker
        self.recorder = JobRecorder(store: store, broker: broker, observer: observer, logger: logger)
        self.lane = lane
        self.retry = retry
        self.maxQueue = maxQueue
        self.observer = observer
        self.logger = logger
        // A slot coming back after a wake found none free owes the run loop that wake. Only then: each wake costs a
        // thread of the pool, and on a native call it would be one more thread the call's end waits beside.
        self.slots = GenerationSlots(capacity: lane.capacity) { [wakeup] in wakeup.signal() }
    }

    /// Tells the worker the queue changed. Cheap and safe to call from anywhere.
    public nonisolated func wake() {
        wakeup.signal()
    }

    /// The jobs being run now, oldest first.
    public var running: [Job] { runs.values.map(\.job).sorted { $0.createdAt < $1.createdAt } }

    /// Whether job `id` is being run by this worker now.
    public func isRunning(_ id: String) -> Bool { runs[id] != nil }

    /// Native calls waiting in memory, readable without waiting for this actor.
    public nonisolated var waitingCalls: Int { waitingCount.load(ordering: .relaxed) }

    /// Native calls waiting here and runs under way: how busy the lane is, for routing a bare model name (ADR 0017).
    public nonisolated var load: Int { waitingCount.load(ordering: .relaxed) + runningCount.load(ordering: .relaxed) }

    public func run() async throws {
        wake()
        await withDiscardingTaskGroup { group in
            for await _ in wakeup.signals.cancelOnGracefulShutdown() {
                while !Task.isCancelled, !Task.isShuttingDownGracefully {
                    // The claim is made holding no slot: a native call that arrives while it commits (behind other
                    // commits, perhaps) starts at once, and the claimed job waits for the slot instead (ADR 0016).
                    if claimedAhead == nil, !claiming, !hasRunnableWaitingCall {
                        guard !slots.isClosed else { break }
                        // Every slot is held: the next one back wakes this loop.
                        guard slots.inUse < slots.capacity else {
                            slots.callWhenFree()
                            break
                        }
                        do {
                            claimedAhead = try await claim()
                        } catch {
                            logger.error("could not claim a job", metadata: ["error": "\(error)"])
                            // The store could not write (a full disk, another process's lock): the queue is still
                            // there, so try again shortly instead of waiting for the next submission to wake the lane.
                            group.addTask {
                                try? await gracefulShutdownAwareSleep(for: .seconds(1))
                                self.wake()
                            }
                        }
                    }
                    // A claim under way (a run's end makes it) decides what runs next, and wakes this loop if it does
                    // not start it: until it returns, the job it took counts nowhere, so a waiting call it outranks
                    // would look free to run.
                    if claiming { break }
                    guard claimedAhead != nil || !waiting.isEmpty, let slot = slots.take() else { break }
                    var job = await nextWaitingCall(evenIfOutranked: false)
                    if job == nil, let ahead = claimedAhead {
                        claimedAhead = nil
                        job = ahead
                    }
                    // A `/jobs` job that outranked the native calls may have gone meanwhile (cancelled).
                    if job == nil { job = await nextWaitingCall(evenIfOutranked: true) }
                    guard let job else { break }
                    let task = start(job, holding: slot)
                    group.addTask { await self.complete(job, task) }
                }
            }
            slots.close()
        }
        await endWaitingCalls(reason: .shutdown)
        await returnClaimedAhead()
        // Runs ``admit(_:)`` began complete on their own tasks: the lane has stopped once they have.
        await withTaskCancellationHandler {
            await waitUntilIdle()
        } onCancel: {
            Task { await self.cancelAll(reason: .shutdown) }
        }
    }

    /// Whether a native call waits that may run before every `/jobs` job, queued or claimed ahead.
    private var hasRunnableWaitingCall: Bool {
        guard let top = waiting.map(\.job.priority).max() else { return false }
        return (highestDurablePriority ?? .min) <= top
    }

    /// The highest priority of a `/jobs` job that waits for this lane: queued in the store, or claimed ahead.
    private var highestDurablePriority: Int? {
        [store.health.highestQueuedPriority(in: .generation), claimedAhead?.priority].compactMap { $0 }.max()
    }

    /// Gives the job claimed but not yet started back to the queue (the lane is stopping).
    private func returnClaimedAhead() async {
        guard let job = claimedAhead else { return }
        claimedAhead = nil
        await recorder.record(job, .cancelled, cancelReason: .shutdown)
    }

    // MARK: Native calls (ADR 0016)

    /// Admits native call `job`, with nothing committed on the way: it starts at once when the slot is free and no
    /// call waits before it, else it waits here, in memory, for the slot. It is read from here until it ends; then
    /// its row is written behind it, once, as it ended.
    ///
    /// A call that starts at once is completed on a task of its own, on the caller's event loop, so the whole call
    /// stays on that loop's thread (ADR 0012). Shutdown waits for it like any other run.
    ///
    /// - Throws: ``JobStoreError/queueFull`` when the store's queue and the calls waiting here reach the bound.
    /// - Parameter events: the call's event stream, which its caller subscribed to: a run started here uses it as it
    ///   is, so its first step, up to the box's request, visits no other actor (ADR 0026).
    public func admit(_ job: Job, events: JobEventStream? = nil) async throws -> JobPlacement {
        precondition(job.origin.isInteractive && job.state == .queued && lane.owns(job), "only a new native call is admitted")
        guard !slots.isClosed else {
            observer.entered(job, from: nil)
            await end(job, cancelledFor: .shutdown)
            return JobPlacement(position: 1)
        }
        guard store.health.queueDepth + waiting.count < maxQueue else { throw JobStoreError.queueFull }
        if waiting.isEmpty, !isOutranked(job), let slot = slots.take() {
            noteStart(of: job)
            let running = Self.started(job, at: Date())
            let task = start(running, holding: slot, arrived: job, events: events)
            Task.preferring(MultiThreadedEventLoopGroup.currentEventLoop) { await self.complete(running, task) }
            return JobPlacement(position: 1)
        }
        observer.entered(job, from: nil)
        arrivals += 1
        waiting.append(WaitingCall(job: job, order: arrivals))
        waitingCount.store(waiting.count, ordering: .relaxed)
        slots.callWhenFree()
        return JobPlacement(position: await place(of: job, at: waiting.count - 1))
    }

    /// The place of `job`, waiting here at `index`: the `/jobs` jobs that outrank it (queued, or claimed ahead), then
    /// the calls that arrived before it.
    private func place(of job: Job, at index: Int) async -> Int {
        guard isOutranked(job) else { return index + 1 }
        let claimed = (claimedAhead?.priority ?? .min) > job.priority ? 1 : 0
        return await store.queuedAbove(priority: job.priority, in: .generation) + claimed + index + 1
    }

    /// Whether a `/jobs` job of a higher priority than `job` waits: it then runs first.
    private func isOutranked(_ job: Job) -> Bool {
        guard let top = highestDurablePriority else { return false }
        return top > job.priority
    }

    /// Takes the waiting native call the lane's scheduler picks, marked running; `nil` when none waits, or when
    /// the store holds a job that outranks them all and `evenIfOutranked` is false.
    private func nextWaitingCall(evenIfOutranked: Bool) async -> Job? {
        while let top = waiting.map(\.job.priority).max() {
            if !evenIfOutranked, let durable = highestDurablePriority, durable > top { return nil }
            let now = Date()
            guard let decision = await lane.choose(among: waiting.map(\.candidate), now: now, lastStarted: callsLastStarted) else { return nil }
            // The choice was made across a suspension: a call cancelled meanwhile is gone, so choose again.
            guard let index = waiting.firstIndex(where: { $0.order == decision.chosen }) else { continue }
            for order in decision.passedOver {
                guard let passed = waiting.firstIndex(where: { $0.order == order }) else { continue }
                waiting[passed].skips += 1
                waiting[passed].firstSkippedAt = waiting[passed].firstSkippedAt ?? now
            }
            let call = waiting.remove(at: index)
            waitingCount.store(waiting.count, ordering: .relaxed)
            noteStart(of: call.job)
            return Self.started(call.job, at: now)
        }
        return nil
    }

    /// Records that a call of `job`'s key started: its turn among waiting calls (ADR 0022).
    private func noteStart(of job: Job) {
        callStarts += 1
        callsLastStarted[job.owner ?? ""] = callStarts
    }

    /// `job` as it stands once it starts: running, on its first attempt.
    private static func started(_ job: Job, at now: Date) -> Job {
        var running = job
        running.state = .running
        running.startedAt = now
        running.attempts = 1
        return running
    }

    /// The native call `id` if it waits here, with its place.
    public func waitingCall(_ id: String) async -> (job: Job, position: Int)? {
        guard let index = waiting.firstIndex(where: { $0.job.id == id }) else { return nil }
        let job = waiting[index].job
        return (job, await place(of: job, at: index))
    }

    /// Every native call waiting here, newest first, with its place.
    public func waitingCallsNewestFirst() async -> [(job: Job, position: Int)] {
        var calls: [(job: Job, position: Int)] = []
        for (index, call) in waiting.enumerated().reversed() { calls.append((call.job, await place(of: call.job, at: index))) }
        return calls
    }

    /// Native calls for `model` (normalized) waiting here or running: they have no row in the store until they end.
    public func nativeCalls(model: String) -> Int {
        let waitingCalls = waiting.count { ModelName.normalized($0.job.model) == model }
        return waitingCalls + runs.values.count { $0.job.origin.isInteractive && ModelName.normalized($0.job.model) == model }
    }

    /// The native call `id` if it is running: it has no row until it ends.
    public func runningCall(_ id: String) -> Job? {
        guard let run = runs[id], run.job.origin.isInteractive else { return nil }
        return run.ended ?? run.job
    }

    /// The native calls running now, newest first.
    public var runningCallsNewestFirst: [Job] {
        runs.values.filter { $0.job.origin.isInteractive && $0.ended == nil }.map(\.job).sorted { $0.createdAt > $1.createdAt }
    }

    /// Cancels native call `id` if it is still waiting here. Returns whether it was.
    public func cancelWaiting(_ id: String, reason: CancelReason) async -> Bool {
        guard let index = waiting.firstIndex(where: { $0.job.id == id }) else { return false }
        let call = waiting.remove(at: index)
        waitingCount.store(waiting.count, ordering: .relaxed)
        await end(call.job, cancelledFor: reason)
        return true
    }

    /// Cancels every native call still waiting (the lane is stopping): their callers get a 503 with `Retry-After`
    /// now rather than a dropped connection.
    private func endWaitingCalls(reason: CancelReason) async {
        let calls = waiting
        waiting.removeAll()
        waitingCount.store(0, ordering: .relaxed)
        for call in calls { await end(call.job, cancelledFor: reason) }
    }

    /// Ends a native call that never ran: cancelled, and recorded as native calls are.
    private func end(_ job: Job, cancelledFor reason: CancelReason) async {
        var cancelled = job
        cancelled.state = .cancelled
        cancelled.error = reason.rawValue
        cancelled.finishedAt = Date()
        await recorder.recordNative(cancelled, from: .queued, outcome: .cancelled(reason))
    }

    // MARK: Runs

    private func claim() async throws -> Job? {
        claiming = true
        defer { claiming = false }
        return try await lane.claim(from: store)
    }

    /// Claims the lane's next `/jobs` job as a run of one ends, before its outcome is recorded, and starts it if the
    /// slot is still free: the box waits for the claim, nobody for the record, and the two commits take turns on one
    /// writer (ADR 0024). Returns the run it started, for the caller to complete. Otherwise the run loop is woken to
    /// start what comes next: a waiting call that took the slot meanwhile, then the job claimed. A claim that fails is
    /// left to the loop, which tries again and says why.
    private func claimBeforeRecording() async -> StartedRun? {
        guard claimedAhead == nil, !claiming, !hasRunnableWaitingCall, !slots.isClosed, slots.inUse < slots.capacity else {
            wake()
            return nil
        }
        claimedAhead = try? await claim()
        // Counted as claimed ahead, the job outranks the waiting calls it should.
        if let claimed = claimedAhead, !hasRunnableWaitingCall, let slot = slots.take() {
            claimedAhead = nil
            // A lane of several slots may have others free, which the loop left alone while this claim was made.
            if slots.inUse < slots.capacity { wake() }
            return (claimed, start(claimed, holding: slot))
        }
        // The lane closed during the claim: the run loop may have given back what it held already.
        if slots.isClosed { await returnClaimedAhead() }
        wake()
        return nil
    }

    /// Cancels job `id` if it is running. Returns whether it was.
    public func cancelRunning(_ id: String, reason: CancelReason) async -> Bool {
        if cancelCurrent(id, reason: reason) { return true }
        if let ahead = claimedAhead, ahead.id == id {
            claimedAhead = nil
            await recorder.record(ahead, .cancelled, cancelReason: reason)
            return true
        }
        // The claim may have committed while the worker has not yet started the run: leave a note
        // that `start` reads, so the cancellation is not lost in that gap.
        guard let job = try? await store.job(id: id), job.state == .running, !job.origin.isInteractive, lane.owns(job) else { return false }
        if cancelCurrent(id, reason: reason) { return true }
        cancelReasons[id] = cancelReasons[id] ?? reason
        return true
    }

    /// Cancels job `id` if this worker holds it now, waiting or running, without reading the store.
    public func cancelHeld(_ id: String, reason: CancelReason) async -> Bool {
        if cancelCurrent(id, reason: reason) { return true }
        return await cancelWaiting(id, reason: reason)
    }

    private func cancelCurrent(_ id: String, reason: CancelReason) -> Bool {
        guard let run = runs[id] else { return false }
        cancelReasons[id] = cancelReasons[id] ?? reason
        run.task.cancel()
        return true
    }

    /// - Parameters:
    ///   - arrived: a native call as it arrived, when it starts as it is admitted: it is announced as queued with its
    ///     start.
    ///   - events: the job's event stream when its caller handed it over; else the run asks the broker for it.
    private func start(_ job: Job, holding slot: GenerationSlot, arrived: Job? = nil, events: JobEventStream? = nil) -> Task<JobResult, Never> {
        // The run mostly waits for the target's connection: on its loop, sending and each chunk need no thread hop.
        // A native call reaches here on its caller's loop (ADR 0012), and the target then uses a connection there.
        // Without task executors the run cannot prefer a loop.
        let loop: (any EventLoop)? =
            if #available(macOS 15.0, *) { lane.eventLoop(near: MultiThreadedEventLoopGroup.currentEventLoop) } else { nil }
        let tell = job.origin.isInteractive ? running(job, arrived: arrived) : nil
        let announcement = tell.flatMap { tell in loop.map { RunningAnnouncement(on: $0, tell: tell) } }
        let attempt = JobAttempt(
            job: job, lane: lane, inventory: inventory, store: store, retry: retry, announcement: announcement, metrics: metrics, logger: logger
        )
        let broker = self.broker
        let task = Task.preferring(loop) {
            if let events { return await attempt.run(events: events) }
            return await attempt.run(events: broker.channel(for: job.id))
        }
        // Behind the run's task on its loop, so the box's request is written first (ADR 0026). A run with no loop of
        // its own has no such order: its call is announced at once.
        if let announcement, let loop {
            loop.execute { announcement.arm(after: Self.announcementBound) }
        } else {
            tell?()
        }
        runs[job.id] = Run(job: job, task: task, slot: slot)
        countRunning()
        if cancelReasons[job.id] != nil { task.cancel() }
        return task
    }

    /// How long a native call's run may go unannounced while its box has not answered: a model's load (ADR 0033).
    static let announcementBound = TimeAmount.milliseconds(10)

    /// What tells the observer that native call `job` runs, after that it was queued if it `arrived` just now.
    private func running(_ job: Job, arrived: Job?) -> @Sendable () -> Void {
        let observer = self.observer
        return {
            if let arrived { observer.entered(arrived, from: nil) }
            observer.entered(job, from: .queued)
        }
    }

    /// Completes the run of `job`, then each run that a run's end started (``claimBeforeRecording()``), one after
    /// another: a drain of `/jobs` jobs goes on here without a turn of the run loop between two jobs. Each `/jobs` job's
    /// outcome is recorded by a task of its own, beside the runs after it, up to ``recordsAtOnce`` (ADR 0041).
    private func complete(_ job: Job, _ task: Task<JobResult, Never>) async {
        await withTaskGroup(of: Void.self) { records in
            var recording = 0
            var run: StartedRun? = (job, task)
            while let (job, task) = run {
                let end = await completeOne(job, task)
                run = end.next
                guard let record = end.record else { continue }
                if recording == Self.recordsAtOnce {
                    await records.next()
                    recording -= 1
                }
                records.addTask(operation: record)
                recording += 1
            }
        }
    }

    /// How many `/jobs` outcomes one chain of runs records at once: finishes that wait for the disk together share
    /// its next fsync, and a disk that stalls stops the lane after this many jobs (ADR 0041).
    static let recordsAtOnce = 4

    /// Waits for `task`, the run of `job`. A native call's end is recorded at once. A `/jobs` job's end claims and starts
    /// the next job first, and returns the recording of its outcome for the caller to run, with that next run.
    private func completeOne(_ job: Job, _ task: Task<JobResult, Never>) async -> (next: StartedRun?, record: (@Sendable () async -> Void)?) {
        let result = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
        // The box is done with the run: the slot goes back before the outcome is recorded, so that a native call
        // waiting for it does not wait for a `/jobs` job's commit too (ADR 0016).
        runs[job.id]?.slot = nil
        countRunning()
        let reason = cancelReasons.removeValue(forKey: job.id) ?? .shutdown
        if job.origin.isInteractive {
            let (ended, outcome) = JobRecorder.end(of: job, result, cancelReason: reason)
            runs[job.id]?.ended = ended
            await recorder.recordNative(ended, from: .running, outcome: outcome)
            forget(job.id)
            return (nil, nil)
        }
        let next = await claimBeforeRecording()
        let recorder = self.recorder
        return (next, {
            await recorder.record(job, result, cancelReason: reason)
            await self.forget(job.id)
        })
    }

    /// Drops a run whose outcome is recorded. The last one wakes whoever waits for the lane to be idle.
    private func forget(_ id: String) {
        runs[id] = nil
        // A cancel that came while the outcome was recorded found the run listed, and had nothing left to stop.
        cancelReasons[id] = nil
        countRunning()
        if runs.isEmpty { resumeIdleWaiters() }
    }

    /// Publishes how many runs hold the box: a run whose outcome is still being recorded does not (ADR 0041).
    private func countRunning() {
        runningCount.store(runs.values.reduce(0) { $1.slot == nil ? $0 : $0 + 1 }, ordering: .relaxed)
    }

    /// Cancels every run (the worker's own task was cancelled: nothing waits for a graceful end).
    private func cancelAll(reason: CancelReason) {
        for id in runs.keys { _ = cancelCurrent(id, reason: reason) }
    }

    /// Stops taking work: native calls still waiting are cancelled, the running jobs may finish within `grace`,
    /// then what is left is cancelled (a `/jobs` job goes back to the queue, a native one fails with the reason).
    /// Returns once every outcome is recorded.
    public func drain(grace: Duration) async {
        slots.close()
        await endWaitingCalls(reason: .shutdown)
        await returnClaimedAhead()
        guard !runs.isEmpty else { return }
        logger.notice("waiting for running jobs before stopping", metadata: ["jobs": "\(runs.count)", "grace": "\(grace)"])
        await withTaskGroup(of: Void.self) { race in
            race.addTask { try? await Task.sleep(for: grace) }
            race.addTask { await self.waitUntilIdle() }
            await race.next()
            race.cancelAll()
        }
        for id in runs.keys {
            logger.warning("shutdown grace passed; cancelling the running job", metadata: ["job": "\(id)"])
            _ = cancelCurrent(id, reason: .shutdown)
        }
        await waitUntilIdle()
    }

    /// Returns when no job is running (or when the calling task is cancelled).
    private func waitUntilIdle() async {
        guard !runs.isEmpty else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                idleWaiters.append(continuation)
                if Task.isCancelled { resumeIdleWaiters() }
            }
        } onCancel: {
            Task { await self.resumeIdleWaiters() }
        }
    }

    private func resumeIdleWaiters() {
        let waiters = idleWaiters
        idleWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }
}

extension Job {
    var logMetadata: Logger.Metadata {
        var metadata: Logger.Metadata = ["job": .string(id), "kind": .string(kind.rawValue), "model": .string(modelID), "origin": .string(origin.rawValue)]
        if let ranOn { metadata["provider"] = .string(ranOn) }
        return metadata
    }
}

/// How one run of a job ended, with what it produced.
struct JobResult: Sendable {
    enum Outcome: Sendable {
        case succeeded
        case upstreamError(String)
        case interrupted(String)
        case cancelled
    }

    var outcome: Outcome
    /// The final response in Ollama's non-streaming shape, when the run produced one.
    var response: Data?
    /// The upstream lines kept, byte for byte: the first and last few (``AnswerRecord``), or an error's body.
    var transcript: [ByteBuffer] = []
    /// A `/jobs` job's whole transcript, spooled to the store as it streamed.
    var spool: TranscriptSpool?
    /// Set when another attempt may succeed where this one failed: after the delay the target asked for, if any.
    var retry: Retry?

    struct Retry: Sendable {
        var after: Duration?
    }

    /// A result with what `record` kept of the answer.
    init(_ outcome: Outcome, response: Data? = nil, record: AnswerRecord, retry: Retry? = nil) {
        self.init(outcome: outcome, response: response, transcript: record.kept, spool: record.spool, retry: retry)
    }

    init(outcome: Outcome, response: Data? = nil, transcript: [ByteBuffer] = [], spool: TranscriptSpool? = nil, retry: Retry? = nil) {
        self.outcome = outcome
        self.response = response
        self.transcript = transcript
        self.spool = spool
        self.retry = retry
    }

    static let cancelled = JobResult(outcome: .cancelled)
}

/// One run of one job against the target: send (retrying while unreachable), relay, assemble.
///
/// It runs in its own task so that cancelling the job cancels exactly this and the upstream request
/// with it; persisting the result happens outside, in the worker, where cancellation cannot interrupt it.
struct JobAttempt: Sendable {
    let job: Job
    /// How the job reaches the box (and what is prepared before each send).
    let lane: any WorkerLane
    let inventory: Inventory
    /// Where a `/jobs` job's transcript is spooled as it streams.
    let store: any JobStore
    let retry: Worker.RetryPolicy
    /// A native call's announcement as running, made once its caller has written its first lines, or by the run
    /// (ADR 0033); `nil` when the worker has announced it.
    let announcement: RunningAnnouncement?
    let metrics: ForemanMetrics
    let logger: Logger

    /// Runs the job until an attempt succeeds, fails for good, or `maxAttempts` attempts have failed for reasons
    /// another attempt may not meet (ADR 0013). The result is the last attempt's, with its transcript alone.
    func run(events: JobEventStream?) async -> JobResult {
        // Announced when the caller has written the first lines, and at the latest before the worker records the
        // end, which waits for this task.
        if let announcement { events?.whenFirstLinesWritten(announcement.now) }
        defer { announcement?.now() }
        var attempt = 1
        var delay = retry.initial
        // A job claimed before (foreman stopped or crashed under it) may have left parts of its transcript.
        var mayFindStaleParts = job.attempts > 1
        while true {
            var result = await runOnce(events: events, mayFindStaleParts: mayFindStaleParts)
            if let spool = result.spool, spool.written > 0 { mayFindStaleParts = true }
            guard let again = result.retry else { return result }
            guard attempt < retry.maxAttempts else {
                if case .interrupted(let message) = result.outcome { result.outcome = .interrupted("\(message) (\(attempt) attempts)") }
                if case .upstreamError(let message) = result.outcome { result.outcome = .upstreamError("\(message) (\(attempt) attempts)") }
                return result
            }
            let pause = again.after ?? delay
            logger.warning(
                "the target failed the job; trying again",
                metadata: ["job": "\(job.id)", "attempt": "\(attempt)", "retry_in": "\(pause)", "outcome": "\(result.outcome)"]
            )
            do {
                try await gracefulShutdownAwareSleep(for: pause)
            } catch {
                return .cancelled
            }
            attempt += 1
            delay = min(delay * 2, retry.maximum)
        }
    }

    /// Whether an answer of `status` may be retried: the target was busy or broken for a moment, not the request.
    /// Only durable jobs (`/jobs` jobs and batch lines) retry one; a native caller gets the target's answer as it came.
    private func isTransient(status: Int) -> Bool {
        !job.origin.isInteractive && [429, 500, 502, 503, 504].contains(status)
    }

    /// - Parameter mayFindStaleParts: whether an earlier run of the job, or an earlier attempt of this one, may have
    ///   written parts of its transcript.
    private func runOnce(events: JobEventStream?, mayFindStaleParts: Bool) async -> JobResult {
        // Only a `/jobs` chat or generate job keeps its whole transcript: it is the job's artifact.
        let spool = job.origin == .jobs && job.kind != .embed ? TranscriptSpool(mayFindStaleParts: mayFindStaleParts) : nil
        var record = AnswerRecord(kind: job.kind, spool: spool)
        do {
            let (response, sentAt) = try await sendRetryingWhileUnreachable()
            events?.yield(.started(status: response.status, contentType: response.contentType))
            guard response.isSuccess else {
                metrics.targetError("upstream_error")
                var body = try await response.body.collect(upTo: 1 << 20)
                let upstreamMessage = ResponseAssembler.errorMessage(in: body)
                let message = upstreamMessage ?? "ollama target answered HTTP \(response.status)"
                if upstreamMessage == nil {
                    // Clients need a JSON error body (Go's client treats an empty error body as success).
                    body = ByteBuffer(string: #"{"error":"# + JSONObjectWriter.quoted(message) + "}")
                }
                if isTransient(status: response.status) {
                    return JobResult(outcome: .upstreamError(message), transcript: [body], retry: .init(after: response.retryAfter))
                }
                events?.yield(.lines([body]))
                return JobResult(outcome: .upstreamError(message), response: Data(body.readableBytesView), transcript: [body])
            }
            var splitter = NDJSONLineSplitter()
            do {
                // When the first bytes came; `nil` once the time to them is reported.
                var firstChunkAt: ContinuousClock.Instant?
                var firstLinesHandedOn = false
                // A `/jobs` run writes its transcript to the store between reads, so it reads the body as a sequence.
                var mayRelayRest = events != nil && spool == nil
                for try await chunk in response.body {
                    if !firstLinesHandedOn, firstChunkAt == nil { firstChunkAt = .now }
                    let lines = splitter.append(chunk)
                    guard !lines.isEmpty else { continue }
                    events?.yield(.lines(lines))
                    if !firstLinesHandedOn {
                        firstLinesHandedOn = true
                        // The caller's task writes the first lines before they are recorded (ADR 0026): on this loop
                        // it runs next.
                        if events != nil { await Task.yield() }
                        // Announced here when the caller has not written them: a call that does not stream (ADR 0033).
                        announcement?.now()
                        reportFirstToken(firstChunkAt, sentAt: sentAt)
                        firstChunkAt = nil
                    }
                    for line in lines { record.append(line) }
                    if record.spool != nil { await spoolIfFull(&record) }
                    if mayRelayRest, let events {
                        if try await relayRest(of: response.body, to: events, splitter: &splitter, record: &record) { break }
                        mayRelayRest = false
                    }
                }
                reportFirstToken(firstChunkAt, sentAt: sentAt)
            } catch {
                if Task.isCancelled { return JobResult(.cancelled, record: record) }
                metrics.targetError("interrupted")
                let message = (error as? TargetError)?.description ?? TargetError.interrupted(String(describing: error)).description
                // A durable job starts again from the beginning; a native caller has already seen part of the answer.
                return JobResult(.interrupted(message), record: record, retry: job.origin.isInteractive ? nil : .init())
            }
            if let rest = splitter.finish() {
                record.append(rest)
                events?.yield(.lines([rest]))
            }
            if Task.isCancelled { return JobResult(.cancelled, record: record) }
            if let last = record.last, let message = ResponseAssembler.errorMessage(in: last) {
                metrics.targetError("upstream_error")
                // A stream that began and then failed is the runner's trouble, not the request's: a durable job
                // starts again.
                return JobResult(.upstreamError(message), record: record, retry: job.origin.isInteractive ? nil : .init())
            }
            return JobResult(.succeeded, response: record.assembler.finished(), record: record)
        } catch let error as TargetError {
            // Only a dropped request escapes the wait for an unreachable target; nothing reached the caller yet.
            return JobResult(.interrupted(error.description), record: record, retry: .init())
        } catch {
            // Only cancellation escapes the retry loop; anything else is a bug in the body reader.
            if Task.isCancelled || error is CancellationError { return JobResult(.cancelled, record: record) }
            return JobResult(.interrupted(String(describing: error)), record: record)
        }
    }

    /// Relays the rest of a native call's answer from the box's connection's loop: each read's lines handed to the
    /// caller, then recorded, with no task between the box's socket and the caller's (ADR 0027). `false` when the body
    /// cannot be read so (it is not read on this loop); it is then read as a sequence.
    private func relayRest(
        of body: TargetBody, to events: JobEventStream, splitter: inout NDJSONLineSplitter, record: inout AnswerRecord
    ) async throws -> Bool {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return false }
        let state = NIOLoopBoundBox((splitter: splitter, record: record), eventLoop: loop)
        defer { (splitter, record) = state.value }
        return try await body.drain { chunk in
            let lines = state.value.splitter.append(chunk)
            guard !lines.isEmpty else { return }
            events.yield(.lines(lines))
            for line in lines { state.value.record.append(line) }
        }
    }

    /// Reports the time from the request sent to the box's first bytes, `at`, when they came.
    private func reportFirstToken(_ at: ContinuousClock.Instant?, sentAt: ContinuousClock.Instant) {
        guard job.kind != .embed, let at else { return }
        metrics.timeToFirstToken(at - sentAt, model: job.model)
    }

    /// Writes the transcript's part to the store once it has filled (ADR 0024). If the write fails, the rest of the
    /// transcript stays in memory and goes with the finish: the run goes on either way.
    private func spoolIfFull(_ record: inout AnswerRecord) async {
        guard let (index, data) = record.spool?.full else { return }
        do {
            try await store.appendArtifactPart(jobID: job.id, name: Artifact.transcript, part: index, data: data)
            record.spool?.wrote()
        } catch {
            logger.warning("could not write a part of the transcript; keeping the rest in memory", metadata: ["job": "\(job.id)", "error": "\(error)"])
            record.spool?.writeFailed()
        }
    }

    /// The target's response, and when the request that got it was sent.
    private func sendRetryingWhileUnreachable() async throws -> (TargetResponse, ContinuousClock.Instant) {
        var delay = retry.initial
        let request = try OutboundRequest.make(for: job, on: lane.providerKind)
        while true {
            try Task.checkCancellation()
            do {
                let sentAt = ContinuousClock.now
                let response = try await lane.send(request, for: job)
                // A visit to the inventory would put the run behind all else waiting on its loop: only when it changes.
                if inventory.isDegraded { await inventory.markReachable() }
                return (response, sentAt)
            } catch let error as TargetError {
                if case .dropped = error { throw error }  // counted by `run`, not waited out
                await inventory.markUnreachable(error.description)
                logger.warning(
                    "target unreachable; job stays at the head of the queue",
                    metadata: ["job": "\(job.id)", "retry_in": "\(delay)", "error": "\(error)"]
                )
                try await gracefulShutdownAwareSleep(for: delay)
                delay = min(delay * 2, retry.maximum)
            }
        }
    }
}
