import ForemanDomain
import ForemanStore
import Foundation
import Logging
import ServiceLifecycle

/// Moves every batch through its statuses (ADR 0020): validates a new one and makes its jobs, notices when its jobs
/// have all ended, writes its output and error files, and expires or cancels it. One actor, so no batch is worked on
/// twice at once; everything it does starts from the batch's row, so a restart resumes where it stopped.
public actor BatchRunner: Service {
    /// The error of a job the batch's expiry cancelled, and of one its cancel did.
    public static let expiredError = "batch expired"
    public static let cancelledError = "batch cancelled"

    /// The store the batches, their files and their jobs live in.
    public nonisolated let store: any BatchStore
    let service: JobService
    let wakeup: Wakeup
    /// How often expiry is checked when nothing else wakes the runner.
    let tick: Duration
    let logger: Logger

    /// - Parameter wakeup: signalled when a batch job ends (``BatchWakingObserver``) and when a batch is created.
    public init(store: any BatchStore, service: JobService, wakeup: Wakeup, tick: Duration = .seconds(30), logger: Logger) {
        self.store = store
        self.service = service
        self.wakeup = wakeup
        self.tick = tick
        self.logger = logger
    }

    public func run() async throws {
        do {
            let removed = try await store.deleteUnfinishedFiles()
            if removed > 0 { logger.notice("deleted files left half written by the last run", metadata: ["files": "\(removed)"]) }
        } catch {
            logger.error("could not delete half-written files", metadata: ["error": "\(error)"])
        }
        let wakeup = self.wakeup
        let tick = self.tick
        await withDiscardingTaskGroup { group in
            group.addTask { await wakeup.signal(every: tick) }
            wakeup.signal()
            for await _ in wakeup.signals.cancelOnGracefulShutdown() {
                await advanceAll()
            }
            group.cancelAll()
        }
    }

    /// Persists `batch`, `validating`, and wakes the runner to validate it.
    public func submit(_ batch: Batch) async throws {
        try await store.insertBatch(batch)
        wakeup.signal()
    }

    /// What a cancel did.
    public enum CancelOutcome: Sendable {
        case notFound
        /// The batch has already ended otherwise: it is as it was.
        case ended(Batch)
        /// The batch is `cancelling` (or was already cancelling or cancelled).
        case cancelling(Batch)
    }

    /// Cancels batch `id`: its queued jobs at once, its running ones through their workers.
    public func cancel(_ id: String) async throws -> CancelOutcome {
        guard let batch = try await store.batch(id: id) else { return .notFound }
        switch batch.status {
        case .validating, .inProgress:
            guard let cancelling = try await store.markCancelling(id: id, now: Date()) else { return try await cancel(id) }
            try await stopJobs(of: cancelling, error: Self.cancelledError)
            wakeup.signal()
            return .cancelling(try await store.batch(id: id) ?? cancelling)
        case .cancelling, .cancelled:
            return .cancelling(batch)
        case .failed, .finalizing, .completed, .expired:
            return .ended(batch)
        }
    }

    private func stopJobs(of batch: Batch, error: String) async throws {
        _ = try await store.cancelQueuedJobs(batchID: batch.id, error: error, now: Date())
        for id in try await store.runningJobIDs(batchID: batch.id) { await service.cancel(id, reason: .requested) }
    }

    private func advanceAll() async {
        let open: [Batch]
        do {
            open = try await store.openBatches()
        } catch {
            logger.error("could not read the open batches", metadata: ["error": "\(error)"])
            return
        }
        for batch in open {
            do {
                try await advance(batch)
            } catch {
                logger.error("could not advance a batch", metadata: ["batch": "\(batch.id)", "status": "\(batch.status.rawValue)", "error": "\(error)"])
            }
        }
    }

    private func advance(_ batch: Batch) async throws {
        switch batch.status {
        case .validating:
            try await validate(batch)
        case .inProgress:
            if Date() >= batch.expiresAt { _ = try await store.cancelQueuedJobs(batchID: batch.id, error: Self.expiredError, now: Date()) }
            if try await !store.hasUnfinishedJobs(batchID: batch.id) { try await finalize(batch) }
        case .cancelling:
            // Again on every pass: a job requeued by a restart after the cancel is cancelled too.
            _ = try await store.cancelQueuedJobs(batchID: batch.id, error: Self.cancelledError, now: Date())
            if try await !store.hasUnfinishedJobs(batchID: batch.id) { try await finalize(batch) }
        case .finalizing:
            try await finalize(batch)
        case .failed, .completed, .expired, .cancelled:
            break
        }
    }

    // MARK: Validation

    /// What a read of the input file learned.
    private struct Scan: Sendable {
        static let keptRefusals = 100
        var refusals: [BatchLine.Refusal] = []
        var refused = 0
        var lines = 0
        var customIDs: Set<String> = []
        /// Each model, and the first line that names it.
        var models: [String: Int] = [:]

        mutating func refuse(_ refusal: BatchLine.Refusal) {
            refused += 1
            if refusals.count < Self.keptRefusals { refusals.append(refusal) }
        }
    }

    /// Where a line's model runs: the model as the box names it, and the provider a `provider/model` id bound.
    private struct Placement: Sendable {
        var model: String
        var provider: String?
    }

    private func validate(_ batch: Batch) async throws {
        let endpoint = batch.endpoint
        guard let kind = Batch.endpoints[endpoint] else {
            try await fail(batch, [BatchLine.Refusal(code: "invalid_endpoint", message: "unsupported endpoint \(endpoint)", line: nil)], refused: 1)
            return
        }
        guard try await store.file(id: batch.inputFileID) != nil else {
            let refusal = BatchLine.Refusal(code: "invalid_file", message: "The input file \(batch.inputFileID) no longer exists.", param: "input_file_id", line: nil)
            try await fail(batch, [refusal], refused: 1)
            return
        }
        var scan = try await store.scanLines(fileID: batch.inputFileID, into: Scan()) { scan, number, line in
            scan.lines += 1
            switch BatchLine.parse(line, number: number, endpoint: endpoint) {
            case .failure(let refusal):
                scan.refuse(refusal)
            case .success(let parsed):
                if !scan.customIDs.insert(parsed.customID).inserted {
                    scan.refuse(BatchLine.Refusal(
                        code: "duplicate_custom_id", message: "The custom_id '\(parsed.customID)' is used by more than one request.", param: "custom_id", line: number
                    ))
                }
                if scan.models[parsed.model] == nil { scan.models[parsed.model] = number }
            }
        }
        if scan.lines == 0 { scan.refuse(BatchLine.Refusal(code: "empty_file", message: "The input file has no requests.", line: nil)) }
        if scan.lines > Batch.maxLines {
            scan.refuse(BatchLine.Refusal(code: "too_many_tasks", message: "A batch holds at most \(Batch.maxLines) requests; this file has \(scan.lines).", line: nil))
        }
        var placements: [String: Placement] = [:]
        for (model, line) in scan.models.sorted(by: { $0.value < $1.value }) {
            do {
                let route = try await service.fleet.route(model)
                placements[model] = Placement(model: route.bound ? route.model : model, provider: route.bound ? route.provider.name : nil)
            } catch JobServiceError.modelNotFound {
                scan.refuse(BatchLine.Refusal(code: "model_not_found", message: "model '\(model)' not found", param: "body.model", line: line))
            }
        }
        guard scan.refused == 0 else {
            try await fail(batch, scan.refusals, refused: scan.refused)
            return
        }
        let now = Date()
        let found = placements
        let started = try await store.startBatch(id: batch.id, now: now) { number, line in
            guard case .success(let parsed) = BatchLine.parse(line, number: number, endpoint: endpoint), let placement = found[parsed.model] else { return nil }
            var job = Job(
                kind: kind, origin: .batch, model: placement.model, provider: placement.provider, priority: Job.batchPriority, request: parsed.body,
                stream: false, createdAt: now
            )
            job.customID = parsed.customID
            job.owner = batch.owner
            return job
        }
        guard let started else { return }
        logger.info("batch in progress", metadata: ["batch": "\(batch.id)", "requests": "\(started.counts.total)"])
        service.wakeWorkers()
    }

    private func fail(_ batch: Batch, _ refusals: [BatchLine.Refusal], refused: Int) async throws {
        let errors = #"{"object":"list","data":"# + JSONObjectWriter.array(refusals.map(\.json)) + "}"
        _ = try await store.failBatch(id: batch.id, errors: errors, now: Date(), event: Self.event("batch.failed"))
        logger.notice("batch failed validation", metadata: ["batch": "\(batch.id)", "errors": "\(refused)"])
    }

    // MARK: Finishing

    private func finalize(_ batch: Batch) async throws {
        guard let batch = batch.status == .finalizing ? batch : try await store.markFinalizing(id: batch.id, now: Date()) else { return }
        var output = StoredFile(purpose: .batchOutput, filename: "\(batch.id)_output.jsonl")
        var errors = StoredFile(purpose: .batchOutput, filename: "\(batch.id)_error.jsonl")
        output.owner = batch.owner
        errors.owner = batch.owner
        try await store.beginFile(output)
        try await store.beginFile(errors)
        var outputWriter = FileChunkWriter(store: store, fileID: output.id)
        var errorWriter = FileChunkWriter(store: store, fileID: errors.id)
        var counts = Batch.Counts(total: batch.counts.total)
        var expired = false
        var after: Int64 = 0
        while true {
            let jobs = try await store.batchJobs(batchID: batch.id, after: after, limit: 500)
            guard let last = jobs.last?.seq else { break }
            for job in jobs {
                let boxKind = job.ranOn.flatMap(service.fleet.provider(named:))?.kind
                let (file, line) = BatchResultLine.of(job, boxKind: boxKind, batch: batch)
                switch file {
                case .output:
                    counts.completed += 1
                    try await outputWriter.write(Data((line + "\n").utf8))
                case .errors:
                    counts.failed += 1
                    if job.error == Self.expiredError { expired = true }
                    try await errorWriter.write(Data((line + "\n").utf8))
                }
            }
            after = last
        }
        let outputBytes = try await outputWriter.finish()
        let errorBytes = try await errorWriter.finish()
        // OpenAI names no file that would be empty.
        if counts.completed == 0 { try await store.deleteFile(id: output.id) }
        if counts.failed == 0 { try await store.deleteFile(id: errors.id) }
        let status: Batch.Status = batch.cancellingAt != nil ? .cancelled : expired ? .expired : .completed
        let ended = try await store.endBatch(
            id: batch.id, status: status,
            output: counts.completed > 0 ? .init(id: output.id, bytes: outputBytes) : nil,
            errors: counts.failed > 0 ? .init(id: errors.id, bytes: errorBytes) : nil,
            counts: counts, now: Date(), event: Self.event("batch.\(status.rawValue)")
        )
        if ended != nil {
            logger.info(
                "batch \(status.rawValue)",
                metadata: ["batch": "\(batch.id)", "completed": "\(counts.completed)", "failed": "\(counts.failed)"]
            )
        }
    }

    /// The event announcing a batch's end, when it has a webhook URL: OpenAI's event object, naming the batch.
    static func event(_ type: String) -> @Sendable (Batch) -> BatchEvent? {
        { batch in
            guard let url = batch.webhookURL else { return nil }
            let now = Date()
            var data = JSONObjectWriter()
            data.string("id", batch.id)
            var event = JSONObjectWriter()
            event.string("id", "evt_" + JobID.make(now: now).dropFirst("job_".count).lowercased())
            event.string("object", "event")
            event.string("type", type)
            event.int("created_at", Int(now.timeIntervalSince1970))
            event.object("data", data)
            return BatchEvent(url: url, payload: Data(event.finished().utf8))
        }
    }
}
