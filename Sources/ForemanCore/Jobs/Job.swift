import Foundation
import GRDB

/// What a job asks the target to do.
public enum JobKind: String, Codable, Sendable, CaseIterable {
    case chat, generate, embed

    /// The target path that runs this kind of job.
    public var targetPath: String {
        switch self {
        case .chat: "/api/chat"
        case .generate: "/api/generate"
        case .embed: "/api/embed"
        }
    }
}

/// Which surface created a job: the native Ollama API (`api`) or the asynchronous `/jobs` API (`jobs`).
public enum JobOrigin: String, Codable, Sendable, CaseIterable {
    case api, jobs

    /// How this origin's state changes reach the disk (ADR 0010): a `/jobs` job is promised to survive a power
    /// cut; a native job's caller waits on a connection that a power cut ends anyway, so its record need not.
    public var transitionDurability: JobStore.Durability { self == .jobs ? .full : .deferred }
}

/// Where a job is in its life: `queued` → `running` → `succeeded` | `failed` | `cancelled`.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    /// Whether the job can no longer change.
    public var isTerminal: Bool {
        switch self {
        case .queued, .running: false
        case .succeeded, .failed, .cancelled: true
        }
    }
}

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
    public var model: String
    /// Higher runs first.
    public var priority: Int
    /// The request body as received.
    public var request: Data
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
    /// How often the scheduler has passed this job over for one behind it, and when it first did (ADR 0007).
    public var skips: Int = 0
    public var firstSkippedAt: Date?

    /// The priority native `/api/*` calls get: interactive work ranks above `/jobs` (default 0).
    public static let interactivePriority = 10

    public init(
        id: String = JobID.make(),
        kind: JobKind,
        origin: JobOrigin,
        model: String,
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
        self.priority = priority
        self.request = request
        self.stream = stream
        self.createdAt = createdAt
        self.attempts = 0
        self.metadata = metadata
        self.stateWebhookURL = stateWebhookURL
    }

    /// The `job` table's columns.
    public enum Columns: String, ColumnExpression {
        case seq, id, kind, origin, state, model, priority, request, stream
        case createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
        case attempts, error, response, metadata
        case stateWebhookURL = "state_webhook_url", idempotencyKey = "idempotency_key"
        case requestFingerprint = "request_fingerprint"
        case skips, firstSkippedAt = "first_skipped_at"
    }

}

/// Rows are read and written column by column rather than through `Codable`: a job's row is read or written on
/// every state change, and GRDB's `Codable` coders cost more than the SQL itself there (ADR 0010).
extension Job: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "job"

    public init(row: Row) throws {
        typealias Column = Columns
        seq = row[Column.seq]
        id = row[Column.id]
        kind = try Self.stored(row, Column.kind)
        origin = try Self.stored(row, Column.origin)
        state = try Self.stored(row, Column.state)
        model = row[Column.model]
        priority = row[Column.priority]
        request = row[Column.request]
        stream = row[Column.stream]
        guard let created = try Self.date(row, Column.createdAt) else { throw StoredJobError(column: Column.createdAt.rawValue, value: "NULL") }
        createdAt = created
        startedAt = try Self.date(row, Column.startedAt)
        finishedAt = try Self.date(row, Column.finishedAt)
        attempts = row[Column.attempts]
        error = row[Column.error]
        response = row[Column.response]
        metadata = row[Column.metadata]
        stateWebhookURL = row[Column.stateWebhookURL]
        idempotencyKey = row[Column.idempotencyKey]
        requestFingerprint = row[Column.requestFingerprint]
        skips = row[Column.skips]
        firstSkippedAt = try Self.date(row, Column.firstSkippedAt)
    }

    public func encode(to container: inout PersistenceContainer) {
        container[Columns.seq] = seq
        for (column, value) in storedValues { container[column] = value }
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }

    /// Every column but `seq`, with what this job stores in it: the one list both ways of writing a row use.
    private var storedValues: [(Columns, (any DatabaseValueConvertible)?)] {
        [
            (.id, id), (.kind, kind.rawValue), (.origin, origin.rawValue), (.state, state.rawValue), (.model, model),
            (.priority, priority), (.request, request), (.stream, stream), (.createdAt, DatabaseDate.storage(createdAt)),
            (.startedAt, startedAt.map(DatabaseDate.storage)), (.finishedAt, finishedAt.map(DatabaseDate.storage)),
            (.attempts, attempts), (.error, error), (.response, response), (.metadata, metadata),
            (.stateWebhookURL, stateWebhookURL), (.idempotencyKey, idempotencyKey), (.requestFingerprint, requestFingerprint),
            (.skips, skips), (.firstSkippedAt, firstSkippedAt.map(DatabaseDate.storage)),
        ]
    }

    /// The `INSERT` of ``insertRow(_:)``, over the columns of ``storedValues`` in their order.
    private static let insertSQL: String = {
        let columns = Job(kind: .chat, origin: .api, model: "", request: Data(), stream: false).storedValues.map(\.0.rawValue)
        return "INSERT INTO job (" + columns.joined(separator: ", ") + ") VALUES ("
            + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
    }()

    /// Inserts the row through one kept statement and sets ``seq``. The queue's hot path inserts this way:
    /// GRDB's generic `insert` built its statement and arguments anew for every job, at about 40 µs a row
    /// (ADR 0011).
    mutating func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: Self.insertSQL).execute(arguments: StatementArguments(storedValues.map(\.1)))
        seq = db.lastInsertedRowID
    }

    private static func stored<Value: RawRepresentable>(_ row: Row, _ column: Columns) throws -> Value where Value.RawValue == String {
        let text: String = row[column]
        guard let value = Value(rawValue: text) else { throw StoredJobError(column: column.rawValue, value: text) }
        return value
    }

    private static func date(_ row: Row, _ column: Columns) throws -> Date? {
        let value: DatabaseValue = row[column]
        if value.isNull { return nil }
        guard let date = DatabaseDate.read(value) else { throw StoredJobError(column: column.rawValue, value: value.description) }
        return date
    }
}

/// A `job` row holds a value foreman never writes (the file was edited by hand or by a newer foreman).
public struct StoredJobError: Error, CustomStringConvertible {
    public var column: String
    public var value: String

    public var description: String { "job row has an unreadable \(column): \(value)" }
}

/// Makes job identifiers that sort by creation time.
public enum JobID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// A new identifier: 48 bits of milliseconds and 80 random bits, ULID-style.
    public static func make(now: Date = Date()) -> String {
        var value = [UInt8](repeating: 0, count: 16)
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        for i in 0..<6 { value[i] = UInt8((millis >> (8 * UInt64(5 - i))) & 0xFF) }
        // Two 64-bit draws cover the 80 random bits: each draw is a `getrandom` call, so one per byte cost ten.
        var rng = SystemRandomNumberGenerator()
        let high: UInt64 = rng.next(), low: UInt64 = rng.next()
        for i in 6..<8 { value[i] = UInt8(truncatingIfNeeded: high >> (8 * UInt64(i - 6))) }
        for i in 8..<16 { value[i] = UInt8(truncatingIfNeeded: low >> (8 * UInt64(i - 8))) }
        // 128 bits → 26 base-32 characters, most significant first.
        var chars: [Character] = []
        chars.reserveCapacity(26)
        var bitBuffer: UInt32 = 0
        var bitCount = 2  // pad 2 leading zero bits so 130 bits split evenly
        for byte in value {
            bitBuffer = (bitBuffer << 8) | UInt32(byte)
            bitCount += 8
            while bitCount >= 5 {
                bitCount -= 5
                chars.append(alphabet[Int((bitBuffer >> UInt32(bitCount)) & 31)])
            }
        }
        return "job_" + String(chars)
    }
}
