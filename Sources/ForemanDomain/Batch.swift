import Foundation

/// One `/v1/batches` batch (ADR 0020): its input file, where it stands, its output files and counts.
public struct Batch: Sendable, Equatable {
    /// OpenAI's batch statuses, in the order a batch can pass through them.
    public enum Status: String, Sendable, CaseIterable {
        case validating, failed
        case inProgress = "in_progress"
        case finalizing, completed, expired, cancelling, cancelled
    }

    /// The endpoints a batch may run, and the kind of job each line becomes.
    public static let endpoints: [String: JobKind] = ["/v1/chat/completions": .chat, "/v1/completions": .generate, "/v1/embeddings": .embed]

    /// The longest a batch may run; OpenAI's only window.
    public static let completionWindow = "24h"
    public static let window: TimeInterval = 24 * 3600
    /// OpenAI's limit on the requests of one batch.
    public static let maxLines = 50_000

    public var id: String
    public var endpoint: String
    public var inputFileID: String
    public var completionWindow: String
    public var status: Status
    /// The caller's `metadata` object, as JSON text.
    public var metadata: String?
    /// The key that made the batch (ADR 0022); `nil` for the bootstrap key.
    public var owner: String?
    /// Where the batch's final status is announced (foreman's extension; ADR 0020).
    public var webhookURL: String?
    /// Validation errors: OpenAI's `errors` object, as JSON text.
    public var errors: String?
    public var outputFileID: String?
    public var errorFileID: String?
    /// `request_counts`, as stored when the batch ended; counted from its jobs while it runs.
    public var counts: Counts
    public var createdAt: Date
    public var expiresAt: Date
    public var inProgressAt: Date?
    public var finalizingAt: Date?
    public var completedAt: Date?
    public var failedAt: Date?
    public var expiredAt: Date?
    public var cancellingAt: Date?
    public var cancelledAt: Date?

    /// `request_counts`: every line, the succeeded ones, and every other that ended.
    public struct Counts: Sendable, Equatable {
        public var total: Int
        public var completed: Int
        public var failed: Int

        public init(total: Int = 0, completed: Int = 0, failed: Int = 0) {
            self.total = total
            self.completed = completed
            self.failed = failed
        }
    }

    public init(
        id: String = Batch.makeID(), endpoint: String, inputFileID: String, metadata: String?, webhookURL: String?, createdAt: Date = Date()
    ) {
        self.id = id
        self.endpoint = endpoint
        self.inputFileID = inputFileID
        self.completionWindow = Self.completionWindow
        self.status = .validating
        self.metadata = metadata
        self.webhookURL = webhookURL
        self.counts = Counts()
        self.createdAt = createdAt
        self.expiresAt = createdAt.addingTimeInterval(Self.window)
    }

    /// `batch_` and a ULID in lowercase, so ids sort by creation.
    public static func makeID() -> String {
        "batch_" + JobID.make().dropFirst("job_".count).lowercased()
    }
}
