import ForemanDomain
import ForemanStore
import Foundation

/// What the HTTP surfaces do with files and batches (ADR 0020): uploads written a chunk at a time, reads, and the
/// ``BatchRunner``'s create and cancel. The routes reach the store through this, as they reach jobs through
/// ``JobService``.
public struct BatchService: Sendable {
    let store: any BatchStore
    let runner: BatchRunner

    public init(runner: BatchRunner) {
        self.runner = runner
        self.store = runner.store
    }

    // MARK: Files

    /// Starts storing `file` and returns the writer its bytes go through; ``finishFile(_:)`` makes it whole.
    public func beginFile(_ file: StoredFile) async throws -> FileChunkWriter {
        try await store.beginFile(file)
        return FileChunkWriter(store: store, fileID: file.id)
    }

    /// Writes the rest of an upload and makes the file whole.
    public func finishFile(_ writer: inout FileChunkWriter) async throws -> StoredFile? {
        let size = try await writer.finish()
        return try await store.finishFile(id: writer.fileID, bytes: size)
    }

    @discardableResult
    public func deleteFile(id: String) async throws -> Bool { try await store.deleteFile(id: id) }

    public func file(id: String) async throws -> StoredFile? { try await store.file(id: id) }

    /// Whole files, as ``BatchStore/files(purpose:after:limit:ascending:owner:)`` lists them.
    public func files(purpose: StoredFile.Purpose?, after: String?, limit: Int, ascending: Bool, owner: String?) async throws -> [StoredFile] {
        try await store.files(purpose: purpose, after: after, limit: limit, ascending: ascending, owner: owner)
    }

    /// Chunk `seq` of file `fileID`, or `nil` past its last.
    public func chunk(fileID: String, seq: Int) async throws -> Data? { try await store.chunk(fileID: fileID, seq: seq) }

    // MARK: Batches

    public func batch(id: String) async throws -> Batch? { try await store.batch(id: id) }

    public func batches(after: String?, limit: Int, owner: String?) async throws -> [Batch] {
        try await store.batches(after: after, limit: limit, owner: owner)
    }

    /// Persists `batch`, `validating`, for the runner to validate.
    public func submit(_ batch: Batch) async throws { try await runner.submit(batch) }

    public func cancel(_ id: String) async throws -> BatchRunner.CancelOutcome { try await runner.cancel(id) }

    /// Cancels every batch of key `owner` that has not ended (ADR 0022: the key was revoked); how many.
    public func cancelBatches(of owner: String) async throws -> Int {
        var cancelled = 0
        var after: String?
        while true {
            let page = try await store.batches(after: after, limit: 100, owner: owner)
            for batch in page where [.validating, .inProgress].contains(batch.status) {
                if case .cancelling = try await runner.cancel(batch.id) { cancelled += 1 }
            }
            guard page.count == 100, let last = page.last?.id else { return cancelled }
            after = last
        }
    }
}
