import Foundation
import GRDB

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
        // A kept statement: a listing of fifty jobs reads fifty of these.
        try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT 'response.json' AS name, 'application/json' AS content_type, length(response) AS size FROM job
                WHERE id = ? AND state = 'succeeded' AND response IS NOT NULL
                UNION ALL
                SELECT name, content_type, length(data) + (
                    SELECT COALESCE(SUM(length(part.data)), 0) FROM artifact_part part WHERE part.job_id = artifact.job_id AND part.name = artifact.name
                ) FROM artifact WHERE job_id = ?
                ORDER BY name
                """),
            arguments: [jobID, jobID]
        ).map { ArtifactInfo(name: $0[0], contentType: $0[1], size: $0[2]) }
    }
}
