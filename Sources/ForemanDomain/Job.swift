import Foundation

/// One generation (or embedding) call, as persisted in the `job` table.
///
/// The request is kept as the exact bytes the caller sent, so the target sees what the caller wrote
/// and nothing foreman re-encoded.
public struct Job: Sendable, Equatable {
    /// Insertion order; the queue's FIFO order and the cursor of job listings.
    public var seq: Int64?
    /// The public identifier, `job_` followed by 26 Crockford base-32 characters.
    public var id: String
    public var kind: JobKind
    public var origin: JobOrigin
    public var state: JobState
    /// The model as its provider names it: a `provider/model` id keeps the provider in ``provider``.
    public var model: String
    /// The provider a `provider/model` id bound the job to (ADR 0017); `nil` for a bare name.
    public var provider: String?
    /// The provider that runs or ran the job: chosen when a native call is admitted, or a `/jobs` job claimed.
    public var ranOn: String?
    /// Higher runs first.
    public var priority: Int
    /// The request body as received.
    public var request: Data
    /// The body for the box when it differs from ``request`` and was made as the call was admitted (an OpenAI call
    /// translated for an Ollama box), so the worker does not make it again. Never stored.
    public var preparedRequest: Data?
    /// Whether the request asked the target to stream.
    public var stream: Bool
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// How many times the worker has claimed the job.
    public var attempts: Int
    public var error: String?
    /// The final response, in Ollama's non-streaming shape.
    public var response: Data?
    /// The caller's `metadata` JSON, exactly as sent (`/jobs` only).
    public var metadata: String?
    /// Where state changes are POSTed (`/jobs` only).
    public var stateWebhookURL: String?
    /// The caller's `Idempotency-Key`, and a SHA-256 of the body it came with.
    public var idempotencyKey: String?
    public var requestFingerprint: String?
    /// The key that made the job (ADR 0022); `nil` for the bootstrap key.
    public var owner: String?
    /// The batch a `batch` job belongs to, and its line's `custom_id` (ADR 0020).
    public var batchID: String?
    public var customID: String?
    /// How often the scheduler has passed this job over for one behind it, and when it first did (ADR 0007).
    public var skips: Int = 0
    public var firstSkippedAt: Date?
    /// What the run used at the box, once it ended (ADR 0022). Never stored in the job's row: usage is kept by key,
    /// model and day.
    public var usage: JobUsage?

    /// The model id as the caller wrote it: `provider/model` for a job bound to a provider, else the bare name.
    public var modelID: String {
        guard let provider else { return model }
        return provider + "/" + model
    }

    /// The priority native `/api/*` calls get: interactive work ranks above `/jobs` (default 0).
    public static let interactivePriority = 10

    /// The priority of a batch's jobs (ADR 0020): below `/jobs` jobs at the default priority.
    public static let batchPriority = -100

    public init(
        id: String = JobID.make(),
        kind: JobKind,
        origin: JobOrigin,
        model: String,
        provider: String? = nil,
        priority: Int = 0,
        request: Data,
        stream: Bool,
        metadata: String? = nil,
        stateWebhookURL: String? = nil,
        createdAt: Date = Date()
    ) {
        self.id = id
        self.kind = kind
        self.origin = origin
        self.state = .queued
        self.model = model
        self.provider = provider
        self.priority = priority
        self.request = request
        self.stream = stream
        self.createdAt = createdAt
        self.attempts = 0
        self.metadata = metadata
        self.stateWebhookURL = stateWebhookURL
    }
}
