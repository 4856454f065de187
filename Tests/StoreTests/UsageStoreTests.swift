import ForemanDomain
@testable import ForemanStore
import ForemanTestSupport
import Foundation
import Testing

/// The `usage` table and the figures a key's account starts from (ADR 0022).
@Suite("Usage in the store")
struct UsageStoreTests {
    private func job(_ kind: JobKind = .chat, origin: JobOrigin = .jobs, owner: String?, model: String = "m") -> Job {
        var job = Job(kind: kind, origin: origin, model: model, priority: 0, request: Data("{}".utf8), stream: false)
        job.owner = owner
        return job
    }

    @Test("a finish adds its usage to its key's, model's and day's row, in its own transaction; rows read back by day, key and range")
    func finishAddsUsage() async throws {
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 100)
        let now = Date(timeIntervalSince1970: 86_400 * 20_000 + 3_600)
        for (owner, prompt) in [("key_a", 10), ("key_a", 5), ("key_b", 7)] {
            _ = try await store.enqueue(job(owner: owner))
            let claimed = try #require(try await store.claimNext(chatSlot: nil, policy: .init()))
            let usage = JobUsage(promptTokens: prompt, generatedTokens: 2, seconds: 0.5)
            #expect(try await store.finish(id: claimed.id, state: .succeeded, error: nil, response: nil, artifacts: [], usage: usage, durability: .full, now: now))
        }
        // A job that was no longer running adds nothing.
        #expect(try await !store.finish(id: "job_none", state: .succeeded, error: nil, response: nil, artifacts: [], usage: JobUsage(promptTokens: 99), durability: .full, now: now))
        let day = UTCDay(now)
        let rows = try await store.usage(from: nil, to: nil, keyID: nil)
        #expect(rows == [
            UsageRow(keyID: "key_a", model: "m", day: day, requests: 2, promptTokens: 15, generatedTokens: 4, generationSeconds: 1),
            UsageRow(keyID: "key_b", model: "m", day: day, requests: 1, promptTokens: 7, generatedTokens: 2, generationSeconds: 0.5),
        ])
        #expect(try await store.usage(from: nil, to: nil, keyID: "key_b").map(\.keyID) == ["key_b"])
        #expect(try await store.usage(from: day.adding(days: 1), to: nil, keyID: nil).isEmpty)
        #expect(try await store.usage(from: nil, to: day.adding(days: -1), keyID: nil).isEmpty)
        #expect(try await store.usage(from: day, to: day, keyID: nil).count == 2)
        #expect(try await store.tokensUsed(on: day) == ["key_a": 19, "key_b": 9])
        #expect(try await store.tokensUsed(on: day.adding(days: 1)).isEmpty)
    }

    @Test("a native call's usage is written behind with its row; an embeddings call's on its own; the bootstrap key's under key_admin")
    func usageWrittenBehind() async throws {
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 100)
        var call = job(origin: .api, owner: nil)
        call.state = .succeeded
        call.startedAt = Date()
        call.finishedAt = Date()
        call.usage = JobUsage(promptTokens: 26, generatedTokens: 3, seconds: 0.25)
        await store.writeBehind(call)
        let day = UTCDay(Date())
        await store.writeUsageBehind(UsageRow(keyID: "key_e", model: "embed", day: day, usage: JobUsage(promptTokens: 8, seconds: 0.125)))
        // A read settles what was handed over first.
        let rows = try await store.usage(from: day, to: day, keyID: nil)
        #expect(rows == [
            UsageRow(keyID: "key_admin", model: "m", day: day, requests: 1, promptTokens: 26, generatedTokens: 3, generationSeconds: 0.25),
            UsageRow(keyID: "key_e", model: "embed", day: day, requests: 1, promptTokens: 8, generatedTokens: 0, generationSeconds: 0.125),
        ])
    }

    @Test("each key's generations queued or running: /jobs generations only, not batch lines, embeddings, native rows or ended jobs")
    func activeGenerations() async throws {
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 100)
        for _ in 0..<3 { _ = try await store.enqueue(job(owner: "key_a")) }
        _ = try #require(try await store.claimNext(chatSlot: nil, policy: .init()))  // running still counts
        let done = try #require(try await store.claimNext(chatSlot: nil, policy: .init()))
        try await store.finish(id: done.id, state: .succeeded)
        _ = try await store.enqueue(job(.generate, owner: "key_b"))
        _ = try await store.enqueue(job(.embed, owner: "key_a"))
        _ = try await store.enqueue(job(owner: nil))
        _ = try await store.enqueue(job(origin: .batch, owner: "key_a"))
        var call = job(origin: .api, owner: "key_a")
        call.state = .running
        call.startedAt = Date()
        await store.writeBehind(call)
        try await store.flushWritesBehind()
        #expect(try await store.activeGenerations() == ["key_a": 2, "key_b": 1])
    }
}
