import ForemanDomain
import Foundation

/// Files and batches as the engine sees them (ADR 0020): the verbs over a batch's rows, its input and output files,
/// and its jobs. Each status change is conditional, so a change that no longer applies changes nothing.
/// ``SQLiteJobStore`` is the implementation.
public protocol BatchStore: Sendable {
    // MARK: Files

    /// Creates `file`'s row, still `writing`: not listed or read until ``finishFile(id:bytes:)``.
    func beginFile(_ file: StoredFile) async throws
    /// Appends chunk `seq` (from 0) of file `fileID`.
    func appendChunk(fileID: String, seq: Int, data: Data) async throws
    /// Marks file `id` whole, `bytes` long.
    func finishFile(id: String, bytes: Int) async throws -> StoredFile?
    /// Deletes file `id` and its chunks; whether it existed.
    @discardableResult func deleteFile(id: String) async throws -> Bool
    /// Deletes the files a crash left half written; how many.
    func deleteUnfinishedFiles() async throws -> Int
    /// The whole file `id`, if there is one.
    func file(id: String) async throws -> StoredFile?
    /// Whole files, newest first (oldest first with `ascending`), after file `after` in that order; with `owner`,
    /// that key's only.
    func files(purpose: StoredFile.Purpose?, after: String?, limit: Int, ascending: Bool, owner: String?) async throws -> [StoredFile]
    /// Chunk `seq` of file `fileID`, or `nil` past its last.
    func chunk(fileID: String, seq: Int) async throws -> Data?
    /// Runs `body` on every non-blank line of file `fileID` (numbered from 1), one chunk in memory at a time.
    func scanLines<Value: Sendable>(fileID: String, into initial: Value, _ body: @escaping @Sendable (inout Value, Int, Data) -> Void) async throws -> Value

    // MARK: Batches

    /// Persists a new batch, `validating`, on disk before it returns.
    func insertBatch(_ batch: Batch) async throws
    /// Batch `id`; while it runs, its counts are its jobs' as they stand.
    func batch(id: String) async throws -> Batch?
    /// Batches, newest first, after batch `after`; with `owner`, that key's only.
    func batches(after: String?, limit: Int, owner: String?) async throws -> [Batch]
    /// Every batch with work ahead, oldest first, with its counts as last stored (not counted from its jobs).
    func openBatches() async throws -> [Batch]
    /// `validating` → `failed`, with OpenAI's `errors` object, and its event.
    func failBatch(id: String, errors: String, now: Date, event: @escaping @Sendable (Batch) -> BatchEvent?) async throws -> Batch?
    /// `validating` → `in_progress`: every line `job` makes a job of becomes one, queued, in one transaction.
    func startBatch(id: String, now: Date, job: @escaping @Sendable (Int, Data) -> Job?) async throws -> Batch?
    /// `validating` or `in_progress` → `cancelling`.
    func markCancelling(id: String, now: Date) async throws -> Batch?
    /// `in_progress` or `cancelling` → `finalizing`.
    func markFinalizing(id: String, now: Date) async throws -> Batch?
    /// `finalizing` → `status`, with its files made whole, its counts and its event, in one transaction.
    func endBatch(
        id: String, status: Batch.Status, output: WrittenFile?, errors: WrittenFile?, counts: Batch.Counts, now: Date,
        event: @escaping @Sendable (Batch) -> BatchEvent?
    ) async throws -> Batch?

    // MARK: A batch's jobs

    /// Cancels every queued job of batch `batchID`, with `error`; how many.
    func cancelQueuedJobs(batchID: String, error: String, now: Date) async throws -> Int
    /// The ids of batch `batchID`'s running jobs.
    func runningJobIDs(batchID: String) async throws -> [String]
    /// Whether any of batch `batchID`'s jobs is queued or running.
    func hasUnfinishedJobs(batchID: String) async throws -> Bool
    /// Batch `batchID`'s jobs in input order, `limit` at a time, after `seq`.
    func batchJobs(batchID: String, after seq: Int64, limit: Int) async throws -> [Job]
}

/// An announcement of a batch's final status, written in the same transaction (ADR 0020).
public struct BatchEvent: Sendable {
    public var url: String
    public var payload: Data

    public init(url: String, payload: Data) {
        self.url = url
        self.payload = payload
    }
}

/// A file a batch's end makes whole: its id and its size.
public struct WrittenFile: Sendable {
    public var id: String
    public var bytes: Int

    public init(id: String, bytes: Int) {
        self.id = id
        self.bytes = bytes
    }
}
