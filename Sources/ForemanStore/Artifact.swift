import Foundation
import GRDB

/// A stored result of a finished job: `response.json` or `transcript.ndjson`.
///
/// `response.json` is the succeeded job's `response` column (written once, with the row's final state, ADR 0012);
/// the `artifact` table holds the others. A long one was written as it streamed (ADR 0024): its parts wait in
/// `artifact_part`, and its row holds what came after them.
public struct Artifact: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "artifact"
    public static let response = "response.json"
    public static let transcript = "transcript.ndjson"

    public var jobID: String
    public var name: String
    public var contentType: String
    public var data: Data
    /// Whether parts written before the row precede `data` (see ``ArtifactPart``).
    public var followsParts = false
    /// Whether an earlier attempt may have left parts, which the row then deletes unless it follows parts of its own.
    /// Only a job's first run, with no part written, is sure it left none.
    public var mayFindStaleParts = true

    public init(jobID: String, name: String, contentType: String, data: Data, followsParts: Bool = false, mayFindStaleParts: Bool = true) {
        self.jobID = jobID
        self.name = name
        self.contentType = contentType
        self.data = data
        self.followsParts = followsParts
        self.mayFindStaleParts = mayFindStaleParts
    }

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case jobID = "job_id", name, contentType = "content_type", data
    }

    /// Inserts the row through one kept statement, not through `Codable` (ADR 0011).
    func insertRow(_ db: Database) throws {
        precondition(name != Self.response, "a response is stored in its job's row")
        if !followsParts, mayFindStaleParts { try ArtifactPart.deleteAll(db, jobID: jobID, name: name) }
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
        guard var artifact = try Artifact.filter(CodingKeys.jobID == jobID && CodingKeys.name == name).fetchOne(db) else { return nil }
        let parts = try ArtifactPart.data(db, jobID: jobID, name: name)
        if !parts.isEmpty {
            artifact.data = parts + artifact.data
            artifact.followsParts = true
        }
        return artifact
    }
}
