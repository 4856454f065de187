import ForemanDomain
import ForemanStore
import ForemanTarget
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Drains one lane of the durable queue (ADR 0008). What the lane claims and how its jobs reach the box is its
/// ``WorkerLane``: ``GenerationLane`` runs one chat or generate job at a time, so the box runs one generation at a
/// time whatever the callers do; ``EmbeddingJobsLane`` runs `/jobs` embed jobs beside it, a few at a time.
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

    private let store: any JobStore
    private let inventory: Inventory
    private let recorder: JobRecorder
    private let broker: JobBroker
    private let lane: any WorkerLane
    private let retry: RetryPolicy
    private let metrics: ForemanMetrics
    private let logger: Logger
    private let wakeup = Wakeup()
    /// The runs under way, each holding its lane's slot until it is removed from here.
    private var runs: [String: (job: Job, task: Task<JobResult, Never>, slot: GenerationSlot)] = [:]
    private var cancelReasons: [String: CancelReason] = [:]
    /// Who may start a run: a claim or ``startNow(_:)`` takes a slot first, and draining closes them.
    private let slots: GenerationSlots
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []

    public init(
        store: any JobStore,
        inventory: Inventory,
        broker: JobBroker,
        lane: any WorkerLane,
        retry: RetryPolicy = RetryPolicy(),
        metrics: ForemanMetrics = .disabled,
        logger: Logger
    ) {
        self.metrics = metrics
        self.store = store
        self.inventory = inventory
        self.broker = broker
        self.recorder = JobRecorder(store: store, broker: broker, logger: logger)
        self.lane = lane
        self.retry = retry
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
    public var running: [Job] { runs.values.map(\.job).sorted { ($0.seq ?? 0) < ($1.seq ?? 0) } }

    /// Whether job `id` is being run by this worker now.
    public func isRunning(_ id: String) -> Bool { runs[id] != nil }

    public func run() async throws {
        wake()
        await withDiscardingTaskGroup { group in
            for await _ in wakeup.signals.cancelOnGracefulShutdown() {
                while !Task.isCancelled, !Task.isShuttingDownGracefully, let slot = slots.take() {
                    let job: Job?
                    do {
                        job = try await claim()
                    } catch {
                        logger.error("could not claim a job", metadata: ["error": "\(error)"])
                        // The store could not write (a full disk, another process's lock): the queue is still there,
                        // so try again shortly instead of waiting for the next submission to wake the lane.
                        group.addTask {
                            try? await gracefulShutdownAwareSleep(for: .seconds(1))
                            self.wake()
                        }
                        break
                    }
                    guard let job else { break }
                    let task = start(job, holding: slot)
                    group.addTask { await self.complete(job, task) }
                }
            }
            slots.close()
        }
        // Runs ``startNow(_:)`` began complete on their own tasks: the lane has stopped once they have.
        await withTaskCancellationHandler {
            await waitUntilIdle()
        } onCancel: {
            Task { await self.cancelAll(reason: .shutdown) }
        }
    }

    /// Runs `job` at once when this generation lane is idle and nothing waits in it: the job is inserted already
    /// running, so it skips the worker's claim and its commit (ADR 0011). Returns `nil`, with nothing persisted,
    /// when the job must queue instead.
    ///
    /// The run is completed and recorded on a task of its own, beside the run loop, which then does not wake for
    /// it: on a caller's event loop, the whole call stays on that loop's thread (ADR 0012). Shutdown waits for
    /// it like any other run.
    public func startNow(_ job: Job) async throws -> JobPlacement? {
        guard lane.startsAtOnce, lane.owns(job), let slot = slots.take() else { return nil }
        guard let (running, placement) = try await store.insertRunning(job) else { return nil }
        guard !slots.isClosed else {
            // The lane began to stop while the row was written: the job never reaches the target.
            await recorder.record(running, .cancelled(transcript: []), cancelReason: .shutdown)
            return placement
        }
        let task = start(running, holding: slot)
        Task.preferring(MultiThreadedEventLoopGroup.currentEventLoop) { await self.complete(running, task) }
        return placement
    }

    private func claim() async throws -> Job? {
        try await lane.claim(from: store)
    }

    /// Cancels job `id` if it is running. Returns whether it was.
    public func cancelRunning(_ id: String, reason: CancelReason) async -> Bool {
        if cancelCurrent(id, reason: reason) { return true }
        // The claim may have committed while the worker has not yet started the run: leave a note
        // that `start` reads, so the cancellation is not lost in that gap.
        guard let job = try? await store.job(id: id), job.state == .running, lane.owns(job) else { return false }
        if cancelCurrent(id, reason: reason) { return true }
        cancelReasons[id] = cancelReasons[id] ?? reason
        return true
    }

    private func cancelCurrent(_ id: String, reason: CancelReason) -> Bool {
        guard let run = runs[id] else { return false }
        cancelReasons[id] = cancelReasons[id] ?? reason
        run.task.cancel()
        return true
    }

    private func start(_ job: Job, holding slot: GenerationSlot) -> Task<JobResult, Never> {
        let attempt = JobAttempt(job: job, lane: lane, inventory: inventory, retry: retry, metrics: metrics, logger: logger)
        let broker = self.broker
        // The run mostly waits for the target's connection: on its loop, sending and each chunk need no thread hop.
        // A native call reaches here on its caller's loop (ADR 0012), and the target then uses a connection there.
        let task = Task.preferring(lane.eventLoop(near: MultiThreadedEventLoopGroup.currentEventLoop)) {
            await attempt.run(events: await broker.channel(for: job.id))
        }
        runs[job.id] = (job, task, slot)
        if cancelReasons[job.id] != nil { task.cancel() }
        return task
    }

    private func complete(_ job: Job, _ task: Task<JobResult, Never>) async {
        let result = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
        let reason = cancelReasons.removeValue(forKey: job.id) ?? .shutdown
        await recorder.record(job, result, cancelReason: reason)
        runs[job.id] = nil  // gives the slot back
        if runs.isEmpty { resumeIdleWaiters() }
    }

    /// Cancels every run (the worker's own task was cancelled: nothing waits for a graceful end).
    private func cancelAll(reason: CancelReason) {
        for id in runs.keys { _ = cancelCurrent(id, reason: reason) }
    }

    /// Stops claiming, lets the running jobs finish within `grace`, then cancels what is left (a `/jobs` job
    /// goes back to the queue, a native one fails with the reason) and returns once every outcome is recorded.
    public func drain(grace: Duration) async {
        slots.close()
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
        ["job": "\(id)", "kind": "\(kind.rawValue)", "model": "\(model)", "origin": "\(origin.rawValue)"]
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
    /// Every upstream line, byte for byte.
    var transcript: [ByteBuffer] = []
    /// Set when another attempt may succeed where this one failed: after the delay the target asked for, if any.
    var retry: Retry?

    struct Retry: Sendable {
        var after: Duration?
    }

    static func cancelled(transcript: [ByteBuffer]) -> JobResult {
        JobResult(outcome: .cancelled, transcript: transcript)
    }

    static func interrupted(_ message: String, transcript: [ByteBuffer] = []) -> JobResult {
        JobResult(outcome: .interrupted(message), transcript: transcript)
    }
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
    let retry: Worker.RetryPolicy
    let metrics: ForemanMetrics
    let logger: Logger

    /// Runs the job until an attempt succeeds, fails for good, or `maxAttempts` attempts have failed for reasons
    /// another attempt may not meet (ADR 0013). The result is the last attempt's, with its transcript alone.
    func run(events: AsyncStream<JobEvent>.Continuation?) async -> JobResult {
        var attempt = 1
        var delay = retry.initial
        while true {
            var result = await runOnce(events: events)
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
                return .cancelled(transcript: [])
            }
            attempt += 1
            delay = min(delay * 2, retry.maximum)
        }
    }

    /// Whether an answer of `status` may be retried: the target was busy or broken for a moment, not the request.
    /// Only `/jobs` jobs retry one; a native caller gets the target's answer as it came.
    private func isTransient(status: Int) -> Bool {
        job.origin == .jobs && [429, 500, 502, 503, 504].contains(status)
    }

    private func runOnce(events: AsyncStream<JobEvent>.Continuation?) async -> JobResult {
        var lines: [ByteBuffer] = []
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
                events?.yield(.chunk(body))
                return JobResult(outcome: .upstreamError(message), response: Data(body.readableBytesView), transcript: [body])
            }
            var splitter = NDJSONLineSplitter()
            do {
                var firstChunk = true
                for try await chunk in response.body {
                    if firstChunk, job.kind != .embed {
                        metrics.timeToFirstToken(ContinuousClock.now - sentAt, model: job.model)
                        firstChunk = false
                    }
                    for line in splitter.append(chunk) {
                        lines.append(line)
                        events?.yield(.chunk(line))
                    }
                }
            } catch {
                if Task.isCancelled { return .cancelled(transcript: lines) }
                metrics.targetError("interrupted")
                let message = (error as? TargetError)?.description ?? TargetError.interrupted(String(describing: error)).description
                var result = JobResult.interrupted(message, transcript: lines)
                // A `/jobs` job starts again from the beginning; a native caller has already seen part of the answer.
                if job.origin == .jobs { result.retry = .init() }
                return result
            }
            if let rest = splitter.finish() {
                lines.append(rest)
                events?.yield(.chunk(rest))
            }
            if Task.isCancelled { return .cancelled(transcript: lines) }
            if let last = lines.last, let message = ResponseAssembler.errorMessage(in: last) {
                metrics.targetError("upstream_error")
                // A stream that began and then failed is the runner's trouble, not the request's: a `/jobs` job
                // starts again.
                return JobResult(outcome: .upstreamError(message), transcript: lines, retry: job.origin == .jobs ? .init() : nil)
            }
            return JobResult(outcome: .succeeded, response: ResponseAssembler.assemble(kind: job.kind, lines: lines), transcript: lines)
        } catch let error as TargetError {
            // Only a dropped request escapes the wait for an unreachable target; nothing reached the caller yet.
            var result = JobResult.interrupted(error.description, transcript: lines)
            result.retry = .init()
            return result
        } catch {
            // Only cancellation escapes the retry loop; anything else is a bug in the body reader.
            if Task.isCancelled || error is CancellationError { return .cancelled(transcript: lines) }
            return .interrupted(String(describing: error), transcript: lines)
        }
    }

    /// The target's response, and when the request that got it was sent.
    private func sendRetryingWhileUnreachable() async throws -> (TargetResponse, ContinuousClock.Instant) {
        var delay = retry.initial
        var buffer = ByteBuffer()
        buffer.writeBytes(job.request)
        let request = TargetRequest(method: .POST, path: job.kind.targetPath, body: buffer)
        while true {
            try Task.checkCancellation()
            do {
                let sentAt = ContinuousClock.now
                let response = try await lane.send(request, for: job)
                await inventory.markReachable()
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
