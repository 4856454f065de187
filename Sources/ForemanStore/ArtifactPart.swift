import Foundation
import GRDB

/// One part of an artifact written as it streamed (ADR 0024): a long transcript goes to the table in parts as it
/// arrives, so a run holds one part in memory whatever the answer's length.
///
/// Parts are numbered from 0 within one attempt. Part 0 replaces whatever an earlier attempt left, and the artifact's
/// row, written at the finish, holds what followed the last part.
enum ArtifactPart {
    /// Writes part `part` of `jobID`'s artifact `name`; part 0 first deletes the parts of an earlier attempt.
    static func insert(_ db: Database, jobID: String, name: String, part: Int, data: Data) throws {
        if part == 0 { try deleteAll(db, jobID: jobID, name: name) }
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO artifact_part (job_id, name, part, data) VALUES (?, ?, ?, ?)")
            .execute(arguments: [jobID, name, part, data])
    }

    static func deleteAll(_ db: Database, jobID: String, name: String) throws {
        try db.cachedStatement(sql: "DELETE FROM artifact_part WHERE job_id = ? AND name = ?").execute(arguments: [jobID, name])
    }

    /// Every part of `jobID`'s artifact `name`, joined in order; empty when it has none.
    static func data(_ db: Database, jobID: String, name: String) throws -> Data {
        var joined = Data()
        let rows = try Data.fetchCursor(
            db.cachedStatement(sql: "SELECT data FROM artifact_part WHERE job_id = ? AND name = ? ORDER BY part"), arguments: [jobID, name]
        )
        while let part = try rows.next() { joined.append(part) }
        return joined
    }
}
