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
