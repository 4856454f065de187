import Foundation

/// A file of OpenAI's Files API (ADR 0020): a batch's input, uploaded, or its output, written by foreman. Its bytes
/// are kept in the database in chunks.
public struct StoredFile: Sendable, Equatable {
    /// Why the file exists: uploaded for a batch, or written as a batch's output or errors.
    public enum Purpose: String, Sendable {
        case batch
        case batchOutput = "batch_output"
    }

    /// Whether its bytes are all there.
    public enum Status: String, Sendable {
        /// Chunks are still being written; a file left so by a crash is deleted at startup.
        case writing
        case processed
    }

    /// The size of one stored chunk.
    public static let chunkBytes = 1 << 20

    public var id: String
    public var purpose: Purpose
    public var filename: String
    public var bytes: Int
    public var status: Status
    public var createdAt: Date
    /// The key that uploaded the file, or whose batch wrote it (ADR 0022); `nil` for the bootstrap key.
    public var owner: String?

    public init(id: String = StoredFile.makeID(), purpose: Purpose, filename: String, createdAt: Date = Date()) {
        self.id = id
        self.purpose = purpose
        self.filename = filename
        self.bytes = 0
        self.status = .writing
        self.createdAt = createdAt
    }

    /// `file-` and a ULID in lowercase, so ids sort by creation.
    public static func makeID() -> String {
        "file-" + JobID.make().dropFirst("job_".count).lowercased()
    }
}
