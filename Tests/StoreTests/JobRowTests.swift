import FakeOllama
@testable import ForemanEngine
import ForemanDomain
@testable import ForemanStore
import ForemanTestSupport
import Foundation
import GRDB
import Testing

@Suite("Job rows")
struct JobRowTests {
    @Test("a job row reads back as it was written, every column, through both ways in")
    func everyColumnRoundTrips() async throws {
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 10)
        let queued = Job(
            kind: .generate, origin: .jobs, model: "m:7b", priority: 3, request: Data(#"{"prompt":"é"}"#.utf8), stream: false,
            metadata: #"{"k":[1,2]}"#, stateWebhookURL: "http://127.0.0.1:1/hook", createdAt: Date(timeIntervalSince1970: 1_800_000_000.25)
        )
        guard case .created(let created, _) = try await store.enqueue(queued, idempotencyKey: "key-1", fingerprint: "abc") else {
            Issue.record("expected a new job")
            return
        }
        var native = Job(kind: .chat, origin: .api, model: "n", priority: Job.interactivePriority, request: Data("{}".utf8), stream: true)
        native.createdAt = Date(timeIntervalSince1970: 1_800_000_001.5)
        let read = try #require(try await store.job(id: created.id))
        #expect(read == created)
        #expect(read.idempotencyKey == "key-1" && read.requestFingerprint == "abc" && read.metadata == #"{"k":[1,2]}"#)

        _ = try await store.claimNext(chatSlot: nil, policy: .init())
        try await store.finish(id: created.id, state: .succeeded, response: Data("{}".utf8))
        let running = Self.running(native)
        await store.writeBehind(running)
        var written = try #require(try await store.job(id: native.id))  // the read commits what was handed over first
        #expect(written.seq != nil)
        written.seq = nil
        #expect(written == running)
        #expect(await store.queueDepth == 0)
    }

    /// A store on a new database, with one native job inserted already running.
    private func storeWithARunningNativeJob() async throws -> (DatabasePool, SQLiteJobStore, Job) {
        let pool = try ForemanDatabase.open(path: temporaryDatabasePath())
        let store = try SQLiteJobStore(pool: pool, maxQueue: 10)
        let native = Job(kind: .chat, origin: .api, model: "m", request: Data("{}".utf8), stream: false)
        await store.writeBehind(Self.running(native))
        try await store.flushWritesBehind()
        return (pool, store, native)
    }

    /// `job` as a native call hands it over when it starts.
    static func running(_ job: Job) -> Job {
        var running = job
        running.state = .running
        running.startedAt = job.createdAt
        running.attempts = 1
        return running
    }

    /// The job table's partial indexes.
    private static func partialIndexes(_ db: Database) throws -> Set<String> {
        Set(try Row.fetchAll(db, sql: "PRAGMA index_list(job)").filter { $0["partial"] == 1 }.map { $0["name"] as String })
    }

    /// The lines of SQLite's plan for `sql`.
    private static func plan(_ db: Database, _ sql: String, _ arguments: StatementArguments = []) throws -> [String] {
        try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
    }

    @Test("the idempotency and finish-time indexes leave NULLs out, and their lookups still use them")
    func partialIndexes() async throws {
        let (pool, store, native) = try await storeWithARunningNativeJob()
        let (partial, keyPlan, prunePlan) = try await pool.read { db in
            (
                try Self.partialIndexes(db),
                try Self.plan(db, "SELECT * FROM job WHERE idempotency_key = ?", ["k"]),
                try Self.plan(db, "SELECT seq FROM job WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT 5", ["2030"])
            )
        }
        #expect(partial.isSuperset(of: ["job_idempotency_key", "job_finished_at"]))
        #expect(keyPlan.contains { $0.contains("USING INDEX job_idempotency_key") })
        #expect(prunePlan.contains { $0.contains("job_finished_at") })
        try await store.finish(id: native.id, state: .succeeded, durability: .deferred)
        let finished = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM job INDEXED BY job_finished_at WHERE finished_at IS NOT NULL") }
        #expect(finished == 1)
    }

    @Test("the queue index holds queued jobs only, and placing and claiming still use it")
    func queueIndexHoldsQueuedJobs() async throws {
        let (pool, store, _) = try await storeWithARunningNativeJob()
        for priority in [0, 5] {
            _ = try await store.enqueue(Job(kind: .chat, origin: .jobs, model: "m", priority: priority, request: Data("{}".utf8), stream: false))
        }
        let (partial, placePlan, claimPlan) = try await pool.read { db in
            (
                try Self.partialIndexes(db),
                try Self.plan(db, "SELECT COUNT(*) FROM job WHERE state = 'queued' AND priority = ? AND seq < ? AND kind != 'embed'", [0, 9]),
                try Self.plan(
                    db,
                    "SELECT seq FROM job WHERE state = 'queued' AND kind != 'embed' AND priority = (SELECT MAX(priority) FROM job WHERE state = 'queued' AND kind != 'embed') ORDER BY seq"
                )
            )
        }
        #expect(partial.contains("job_queue_place"))  // so the running native job is not in it
        #expect(placePlan.contains { $0.contains("job_queue_place") })
        #expect(claimPlan.filter { $0.contains("job_queue_place") }.count == 2)  // the claim and its MAX(priority)
        #expect(try await store.claimNext(chatSlot: nil, policy: .init())?.priority == 5)
    }

    @Test("a response is stored once, in the job's row, and still listed and served as response.json")
    func responseStoredOnce() async throws {
        let path = temporaryDatabasePath()
        // A database as version 6 left it: the response in the row and again as an artifact.
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let old = try DatabasePool(path: path, configuration: ForemanDatabase.configuration)
        try ForemanDatabase.migrator.migrate(old, upTo: "v6: partial indexes for keys and finish times")
        try await old.write { db in
            for (id, state, response) in [("job_ok", "succeeded", #"{"done":true}"#), ("job_bad", "failed", #"{"error":"boom"}"#)] {
                try db.execute(
                    sql: """
                        INSERT INTO job (id, kind, origin, state, model, request, stream, created_at, response)
                        VALUES (?, 'chat', 'jobs', ?, 'm', X'7B7D', 0, '2026-11-01 00:00:00.000', ?)
                        """,
                    arguments: [id, state, Data(response.utf8)]
                )
            }
            try db.execute(sql: #"INSERT INTO artifact VALUES ('job_ok', 'response.json', 'application/json', '{"done":true}')"#)
            try db.execute(sql: "INSERT INTO artifact VALUES ('job_ok', 'transcript.ndjson', 'application/x-ndjson', X'7B7D0A')")
        }
        try old.close()

        let pool = try ForemanDatabase.open(path: path)
        let store = try SQLiteJobStore(pool: pool, maxQueue: 10)
        #expect(try await pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM artifact") } == ["transcript.ndjson"])
        let listed = try #require(try await store.artifacts(jobID: "job_ok"))
        #expect(listed == [
            ArtifactInfo(name: "response.json", contentType: "application/json", size: 13),
            ArtifactInfo(name: "transcript.ndjson", contentType: "application/x-ndjson", size: 3),
        ])
        #expect(try await store.artifact(jobID: "job_ok", name: "response.json")?.data == Data(#"{"done":true}"#.utf8))
        #expect(try await store.artifacts(jobID: "job_bad") == [])
        #expect(try await store.artifact(jobID: "job_bad", name: "response.json") == nil)

        // New jobs: the finish writes the row only.
        let job = Job(kind: .chat, origin: .api, model: "m", request: Data("{}".utf8), stream: false)
        await store.writeBehind(JobRowTests.running(job))
        try await store.flushWritesBehind()
        try await store.finish(id: job.id, state: .succeeded, response: Data("{}".utf8), durability: .deferred)
        #expect(try await store.artifacts(jobID: job.id) == [ArtifactInfo(name: "response.json", contentType: "application/json", size: 2)])
        #expect(try await pool.read { db in try Artifact.fetchCount(db) } == 1)
    }
}

@Suite("Retention")
struct RetentionTests {
    @Test("jobs finished before the cutoff go, with their artifacts and deliveries; newer and unfinished ones stay")
    func prune() async throws {
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 10)
        let old = Job(kind: .chat, origin: .jobs, model: "m", request: Data("{}".utf8), stream: true, stateWebhookURL: "http://127.0.0.1:1/hook")
        let recent = Job(kind: .chat, origin: .jobs, model: "m", request: Data("{}".utf8), stream: true)
        let waiting = Job(kind: .chat, origin: .jobs, model: "m", request: Data("{}".utf8), stream: true)
        for job in [old, recent] {
            _ = try await store.enqueue(job)
            _ = try await store.claimNext(chatSlot: nil, policy: .init())
        }
        let artifact = Artifact(jobID: old.id, name: Artifact.transcript, contentType: "application/x-ndjson", data: Data("{}\n".utf8))
        try await store.finish(
            id: old.id, state: .succeeded, response: Data("{}".utf8), artifacts: [artifact], now: Date(timeIntervalSinceNow: -8 * 86_400)
        )
        try await store.finish(id: recent.id, state: .succeeded, now: Date())
        _ = try await store.enqueue(waiting)

        #expect(try await store.prune(finishedBefore: Date(timeIntervalSinceNow: -7 * 86_400), batchSize: 1) == 1)
        #expect(try await store.job(id: old.id) == nil)
        #expect(try await store.job(id: recent.id) != nil)
        #expect(try await store.job(id: waiting.id) != nil)
        let leftovers = try await store.pool.read { db in
            (try Artifact.fetchCount(db), try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM webhook_delivery WHERE job_id = ?", arguments: [old.id]) ?? -1)
        }
        #expect(leftovers == (0, 0))
    }
}

@Suite("Artifact parts")
struct ArtifactPartTests {
    private func running(_ store: SQLiteJobStore) async throws -> Job {
        _ = try await store.enqueue(Job(kind: .chat, origin: .jobs, model: "m", request: Data("{}".utf8), stream: true))
        return try #require(try await store.claimNext(chatSlot: nil, policy: .init()))
    }

    @Test("parts written as a run streams precede the row written at the finish; a new attempt's part 0 replaces the last attempt's")
    func partsThenRow() async throws {
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 10)
        let job = try await running(store)
        // A first attempt wrote three parts, then failed; the second writes two and finishes with the rest.
        for part in 0..<3 { try await store.appendArtifactPart(jobID: job.id, name: Artifact.transcript, part: part, data: Data("old\(part)\n".utf8)) }
        for part in 0..<2 { try await store.appendArtifactPart(jobID: job.id, name: Artifact.transcript, part: part, data: Data("new\(part)\n".utf8)) }
        let rest = Artifact(jobID: job.id, name: Artifact.transcript, contentType: "application/x-ndjson", data: Data("end\n".utf8), followsParts: true)
        try await store.finish(id: job.id, state: .succeeded, response: Data("{}".utf8), artifacts: [rest])
        let read = try await store.artifact(jobID: job.id, name: Artifact.transcript)
        #expect(read.map { String(decoding: $0.data, as: UTF8.self) } == "new0\nnew1\nend\n")
        let listed = try await store.artifacts(jobID: job.id)
        #expect(listed?.first { $0.name == Artifact.transcript }?.size == "new0\nnew1\nend\n".utf8.count)
    }

    @Test("a finish whose attempt wrote no part drops the parts of an earlier one; pruning the job drops them too")
    func staleParts() async throws {
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 10)
        let job = try await running(store)
        try await store.appendArtifactPart(jobID: job.id, name: Artifact.transcript, part: 0, data: Data("old\n".utf8))
        let whole = Artifact(jobID: job.id, name: Artifact.transcript, contentType: "application/x-ndjson", data: Data("whole\n".utf8))
        try await store.finish(id: job.id, state: .succeeded, response: Data("{}".utf8), artifacts: [whole], now: Date(timeIntervalSinceNow: -8 * 86_400))
        let read = try await store.artifact(jobID: job.id, name: Artifact.transcript)
        #expect(read?.data == Data("whole\n".utf8))

        let other = try await running(store)
        try await store.appendArtifactPart(jobID: other.id, name: Artifact.transcript, part: 0, data: Data("x\n".utf8))
        try await store.finish(id: other.id, state: .failed, error: "x", now: Date(timeIntervalSinceNow: -8 * 86_400))
        #expect(try await store.prune(finishedBefore: Date(timeIntervalSinceNow: -7 * 86_400), batchSize: 10) == 2)
        let parts = try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM artifact_part") }
        #expect(parts == 0)
    }
}
