import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// The single worker: claims one job at a time from the ``JobStore`` and runs it against the target.
///
/// One worker means the GPU box runs one generation at a time, whatever the callers do. While the target
/// is unreachable the claimed job stays at the head of the queue and is retried with capped backoff;
/// queue time never counts against the upstream timeout because the timeout only starts at `send`.
public actor Worker: Service {
    /// How long to wait between attempts to reach an unreachable target.
    public struct RetryPolicy: Sendable, Equatable {
        public var initial: Duration = .milliseconds(250)
        public var maximum: Duration = .seconds(10)
        public init() {}
    }

    private let store: JobStore
    private let target: any OllamaTarget
    private let inventory: Inventory
    private let broker: JobBroker
    private let retry: RetryPolicy
    private let logger: Logger
    private let wakeups: AsyncStream<Void>
    private let wakeupSource: AsyncStream<Void>.Continuation
    private let policy: Scheduler.Policy
    private var current: (job: Job, task: Task<JobResult, Never>)?
    /// The model the last generation ran on: what the target most likely has loaded (affinity, ADR 0007).
    private var chatSlot: String?
    private var cancelReasons: [String: CancelReason] = [:]

    public init(
        store: JobStore,
        target: any OllamaTarget,
        inventory: Inventory,
        broker: JobBroker,
        retry: RetryPolicy = RetryPolicy(),
        policy: Scheduler.Policy = Scheduler.Policy(),
        logger: Logger
    ) {
        self.policy = policy
        self.store = store
        self.target = target
        self.inventory = inventory
        self.broker = broker
        self.retry = retry
        self.logger = logger
        (wakeups, wakeupSource) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Tells the worker the queue changed. Cheap and safe to call from anywhere.
    public nonisolated func wake() {
        wakeupSource.yield()
    }

    /// The job being run now, if any.
    public var running: Job? { current?.job }

    public func run() async throws {
        wake()
        for await _ in wakeups.cancelOnGracefulShutdown() {
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                let job: Job?
                do {
                    job = try await store.claimNext(chatSlot: chatSlot, policy: policy)
                } catch {
                    logger.error("could not claim a job", metadata: ["error": "\(error)"])
                    break
                }
                guard let job else { break }
                await execute(job)
            }
        }
    }

    /// Cancels job `id` if it is running. Returns whether it was.
    public func cancelRunning(_ id: String, reason: CancelReason) async -> Bool {
        if cancelCurrent(id, reason: reason) { return true }
        // The claim may have committed while the worker has not yet started the run: leave a note
        // that `execute` reads before it starts, so the cancellation is not lost in that gap.
        guard (try? await store.job(id: id))?.state == .running else { return false }
        if cancelCurrent(id, reason: reason) { return true }
        cancelReasons[id] = cancelReasons[id] ?? reason
        return true
    }

    private func cancelCurrent(_ id: String, reason: CancelReason) -> Bool {
        guard let current, current.job.id == id else { return false }
        cancelReasons[id] = cancelReasons[id] ?? reason
        current.task.cancel()
        return true
    }

    private func execute(_ job: Job) async {
        let attempt = JobAttempt(job: job, target: target, inventory: inventory, retry: retry, logger: logger)
        let broker = self.broker
        let task = Task { await attempt.run(events: await broker.channel(for: job.id)) }
        current = (job, task)
        if job.kind != .embed { chatSlot = ModelName.normalized(job.model) }
        if cancelReasons[job.id] != nil { task.cancel() }
        logger.debug("job started", metadata: job.logMetadata)
        let result = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
        current = nil
        let reason = cancelReasons.removeValue(forKey: job.id) ?? .shutdown
        await record(job, result, cancelReason: reason)
    }

    /// Persists how the job ended, then tells its caller. The row is committed before the caller's
    /// response ends, so whoever looks the job up afterwards sees its final state.
    private func record(_ job: Job, _ result: JobResult, cancelReason: CancelReason) async {
        let outcome: JobOutcome
        let state: JobState
        var error: String?
        switch result.outcome {
        case .succeeded:
            state = .succeeded
            outcome = .succeeded
        case .upstreamError(let message):
            state = .failed
            error = message
            outcome = .upstreamError(message)
        case .interrupted(let message):
            state = .failed
            error = message
            outcome = .interrupted(message)
        case .cancelled where cancelReason == .shutdown && job.origin == .jobs:
            // Nobody cancelled this work: foreman is stopping. It runs again after the restart.
            do {
                try await store.requeue(id: job.id)
            } catch {
                logger.error("could not requeue a job at shutdown", metadata: ["job": "\(job.id)", "error": "\(error)"])
            }
            logger.info("job requeued at shutdown", metadata: job.logMetadata)
            await broker.finish(job.id, .cancelled(.shutdown))
            return
        case .cancelled:
            // A native call cut short by shutdown failed; nobody asked for it to stop.
            state = cancelReason == .shutdown ? .failed : .cancelled
            error = cancelReason.rawValue
            outcome = .cancelled(cancelReason)
        }
        do {
            try await store.finish(id: job.id, state: state, error: error, response: result.response, artifacts: Self.artifacts(of: job, result))
        } catch {
            logger.error("could not record job outcome", metadata: ["job": "\(job.id)", "error": "\(error)"])
        }
        var metadata = job.logMetadata
        metadata["state"] = "\(state.rawValue)"
        if let error { metadata["error"] = "\(error)" }
        logger.info("job finished", metadata: metadata)
        await broker.finish(job.id, outcome)
    }

    /// The artifacts a finished run leaves: the final response when it succeeded, and for `/jobs` chat and
    /// generate jobs the transcript (native callers already had the stream).
    static func artifacts(of job: Job, _ result: JobResult) -> [Artifact] {
        var artifacts: [Artifact] = []
        if case .succeeded = result.outcome, let response = result.response {
            artifacts.append(Artifact(jobID: job.id, name: Artifact.response, contentType: "application/json", data: response))
        }
        if job.origin == .jobs, job.kind != .embed, !result.transcript.isEmpty {
            var transcript = Data()
            for line in result.transcript { transcript.append(contentsOf: line.readableBytesView) }
            artifacts.append(Artifact(jobID: job.id, name: Artifact.transcript, contentType: "application/x-ndjson", data: transcript))
        }
        return artifacts
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
    let target: any OllamaTarget
    let inventory: Inventory
    let retry: Worker.RetryPolicy
    let logger: Logger

    func run(events: AsyncStream<JobEvent>.Continuation?) async -> JobResult {
        var lines: [ByteBuffer] = []
        do {
            let response = try await sendRetryingWhileUnreachable()
            events?.yield(.started(status: response.status, contentType: response.contentType))
            guard response.isSuccess else {
                var body = try await response.body.collect(upTo: 1 << 20)
                let upstreamMessage = ResponseAssembler.errorMessage(in: body)
                let message = upstreamMessage ?? "ollama target answered HTTP \(response.status)"
                if upstreamMessage == nil {
                    // Clients need a JSON error body (Go's client treats an empty error body as success).
                    body = ByteBuffer(string: #"{"error":"# + JSONObjectWriter.quoted(message) + "}")
                }
                events?.yield(.chunk(body))
                return JobResult(outcome: .upstreamError(message), response: Data(body.readableBytesView), transcript: [body])
            }
            var splitter = NDJSONLineSplitter()
            do {
                for try await chunk in response.body {
                    for line in splitter.append(chunk) {
                        lines.append(line)
                        events?.yield(.chunk(line))
                    }
                }
            } catch {
                if Task.isCancelled { return .cancelled(transcript: lines) }
                return .interrupted(TargetError.interrupted(String(describing: error)).description, transcript: lines)
            }
            if let rest = splitter.finish() {
                lines.append(rest)
                events?.yield(.chunk(rest))
            }
            if Task.isCancelled { return .cancelled(transcript: lines) }
            if let last = lines.last, let message = ResponseAssembler.errorMessage(in: last) {
                return JobResult(outcome: .upstreamError(message), transcript: lines)
            }
            return JobResult(outcome: .succeeded, response: ResponseAssembler.assemble(kind: job.kind, lines: lines), transcript: lines)
        } catch {
            // Only cancellation escapes the retry loop; anything else is a bug in the body reader.
            if Task.isCancelled || error is CancellationError { return .cancelled(transcript: lines) }
            return .interrupted(String(describing: error), transcript: lines)
        }
    }

    private func sendRetryingWhileUnreachable() async throws -> TargetResponse {
        var delay = retry.initial
        var buffer = ByteBuffer()
        buffer.writeBytes(job.request)
        let request = TargetRequest(method: .POST, path: job.kind.targetPath, body: buffer)
        while true {
            try Task.checkCancellation()
            do {
                let response = try await target.send(request)
                await inventory.markReachable()
                return response
            } catch let error as TargetError {
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
