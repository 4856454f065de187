import Foundation
import GRDB

/// A stored result of a finished job: `response.json` or `transcript.ndjson`.
///
/// `response.json` is the succeeded job's `response` column (written once, with the row's final state, ADR 0012);
/// the `artifact` table holds the others.
public struct Artifact: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "artifact"
    public static let response = "response.json"
    public static let transcript = "transcript.ndjson"

    public var jobID: String
    public var name: String
    public var contentType: String
    public var data: Data

    public init(jobID: String, name: String, contentType: String, data: Data) {
        self.jobID = jobID
        self.name = name
        self.contentType = contentType
        self.data = data
    }

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case jobID = "job_id", name, contentType = "content_type", data
    }

    /// Inserts the row through one kept statement, not through `Codable` (ADR 0011).
    func insertRow(_ db: Database) throws {
        precondition(name != Self.response, "a response is stored in its job's row")
        try db.cachedStatement(sql: "INSERT INTO artifact (job_id, name, content_type, data) VALUES (?, ?, ?, ?)")
            .execute(arguments: [jobID, name, contentType, data])
    }

    /// Reads one of `jobID`'s artifacts, bytes included.
    static func fetchOne(_ db: Database, jobID: String, name: String) throws -> Artifact? {
        if name == response {
            let data = try Data.fetchOne(
                db,
                sql: "SELECT response FROM job WHERE id = ? AND state = 'succeeded' AND response IS NOT NULL",
                arguments: [jobID]
            )
            return data.map { Artifact(jobID: jobID, name: response, contentType: "application/json", data: $0) }
        }
        return try Artifact.filter(CodingKeys.jobID == jobID && CodingKeys.name == name).fetchOne(db)
    }
}

/// What a job object says about one artifact (the bytes stay in the table).
public struct ArtifactInfo: Sendable, Equatable {
    public var name: String
    public var contentType: String
    public var size: Int

    public init(name: String, contentType: String, size: Int) {
        self.name = name
        self.contentType = contentType
        self.size = size
    }

    /// Reads the listing of `jobID`'s artifacts without loading their bytes.
    static func fetchAll(_ db: Database, jobID: String) throws -> [ArtifactInfo] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT 'response.json' AS name, 'application/json' AS content_type, length(response) AS size FROM job
                WHERE id = ? AND state = 'succeeded' AND response IS NOT NULL
                UNION ALL
                SELECT name, content_type, length(data) FROM artifact WHERE job_id = ?
                ORDER BY name
                """,
            arguments: [jobID, jobID]
        ).map { ArtifactInfo(name: $0["name"], contentType: $0["content_type"], size: $0["size"]) }
    }
}

/// One webhook event waiting in (or gone through) the outbox.
public struct WebhookDelivery: Sendable, Equatable, Codable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "webhook_delivery"

    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy { DatabaseDate.encoding }
    public static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy { DatabaseDate.decoding }

    public enum State: String, Codable, Sendable { case pending, delivered, failed }

    public var seq: Int64?
    /// The Standard Webhooks `webhook-id`: stable across retries.
    public var webhookID: String
    public var jobID: String
    public var url: String
    /// The receiver, as ``WebhookEndpoint`` names it: deliveries are limited and rested per endpoint.
    public var endpoint: String
    /// The exact body sent on every attempt.
    public var payload: Data
    public var state: State
    public var attempts: Int
    public var createdAt: Date
    public var nextAttemptAt: Date
    public var deliveredAt: Date?
    public var lastError: String?

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case seq, webhookID = "webhook_id", jobID = "job_id", url, endpoint, payload, state, attempts
        case createdAt = "created_at", nextAttemptAt = "next_attempt_at", deliveredAt = "delivered_at", lastError = "last_error"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}
