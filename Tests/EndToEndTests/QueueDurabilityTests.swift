import FakeOllama
@testable import ForemanEngine
import ForemanDomain
@testable import ForemanStore
import ForemanTestSupport
import Foundation
import GRDB
import Testing

extension ServerTests {
    @Suite("Queue durability and recovery")
    struct QueueDurabilityTests {
        @Test("the database runs in WAL mode with synchronous=FULL, checked at open")
        func pragmas() async throws {
            let pool = try ForemanDatabase.open(path: temporaryDatabasePath())
            let (journal, synchronous) = try await pool.write { db in
                (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"))
            }
            #expect(journal == "wal")
            #expect(synchronous == 2)
            try await pool.barrierWriteWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            #expect(throws: DurabilityError.self) { try ForemanDatabase.verifyDurability(pool) }
        }

        @Test("native jobs left queued or running by a previous process are failed at startup")
        func restartMarksOrphans() async throws {
            let path = temporaryDatabasePath()
            let ids: [String]
            do {
                let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: path), maxQueue: 10)
                let jobs = (0..<3).map { _ in Job(kind: .chat, origin: .api, model: "llama3.2", request: Data("{}".utf8), stream: true) }
                for job in jobs { _ = try await store.enqueue(job) }
                _ = try await store.claimNext(chatSlot: nil, policy: .init())  // the first one was running when the process died
                ids = jobs.map(\.id)
            }
            let fake = FakeOllamaState()
            try await Harness.run(fake: fake, databasePath: path) { harness in
                let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: path), maxQueue: 10)
                for id in ids {
                    let job = try #require(try await store.job(id: id))
                    #expect(job.state == .failed)
                    #expect(job.error == "interrupted by restart")
                    #expect(job.finishedAt != nil)
                }
                #expect(try await harness.health()["queue_depth"] as? Int == 0)
                #expect(await fake.requests(to: "/api/chat").isEmpty)
            }
        }

        @Test("a finished native job keeps its request, attempts and final response")
        func jobRowKeepsEverything() async throws {
            let path = temporaryDatabasePath()
            try await Harness.run(databasePath: path) { harness in
                let body = Harness.chatBody(tokens: 3)
                let response = try await harness.request(.POST, "/api/chat", json: body)
                #expect(response.status == 200)
                // The row is written behind the call (ADR 0016); foreman's own read commits it first.
                let id = try #require(response.headers.first(name: "X-Foreman-Job-Id"))
                #expect(try await harness.request(.GET, "/jobs/\(id)").jsonObject()["state"] as? String == "succeeded")
                let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: path), maxQueue: 10)
                let job = try #require(try await store.pool.read { db in try Job.fetchOne(db) })
                #expect(job.state == .succeeded)
                #expect(job.origin == .api)
                #expect(job.kind == .chat)
                #expect(job.attempts == 1)
                #expect(String(decoding: job.request, as: UTF8.self) == body)
                #expect(job.startedAt != nil && job.finishedAt != nil)
                let final = try #require(job.response.flatMap { try JSONSerialization.jsonObject(with: $0) as? [String: Any] })
                #expect((final["message"] as? [String: Any])?["content"] as? String == "The sky is")
                #expect(final["done"] as? Bool == true)
            }
        }

        @Test("while the target is down a job waits at the head of the queue, then succeeds when it returns")
        func targetOutageThenRecovery() async throws {
            // Find a free port, then leave it closed: connections are refused until the fake starts on it.
            let fake = FakeOllamaState(tokenDelay: .milliseconds(2))
            let port = try closedPort()
            try await Harness.runForeman(fake: fake, fakePort: port, databasePath: temporaryDatabasePath()) { harness in
                let answer = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false)) }
                // The job is claimed and retried while the target refuses connections.
                try await eventually("a running job on a degraded target") {
                    let health = try await harness.health()
                    return health["status"] as? String == "degraded" && health["running_job"] is [String: Any]
                }
                try await withRunningService({ onRunning in
                    buildFakeOllama(state: fake, port: port, logger: quietLogger("fake"), onServerRunning: onRunning)
                }) { _ in
                    let response = try await answer.value
                    #expect(response.status == 200)
                    #expect(try response.jsonObject()["done"] as? Bool == true)
                    #expect(try await harness.health()["status"] as? String == "ok")
                }
            }
        }

        @Test("a caller waiting past FOREMAN_MAX_WAIT for an unreachable target gets 504 and the job is cancelled")
        func waitBoundWhileUnreachable() async throws {
            let fake = FakeOllamaState()
            let port = try closedPort()
            let path = temporaryDatabasePath()
            try await Harness.runForeman(fake: fake, fakePort: port, databasePath: path, configure: { $0.maxWait = .milliseconds(300) }) { harness in
                let response = try await harness.request(.POST, "/api/chat", json: Harness.chatBody())
                #expect(response.status == 504)
                #expect(response.error?.hasPrefix("timed out waiting for the ollama target") == true)
                let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: path), maxQueue: 10)
                try await eventually("job cancelled") {
                    try await store.pool.read { db in try Job.fetchOne(db) }?.state == .cancelled
                }
            }
        }
    }
}
