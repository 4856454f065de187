import ForemanDomain
@testable import ForemanStore
import ForemanTestSupport
import Foundation
import Synchronization
import Testing

/// A full write's fsync, made off the writer connection (ADR 0024).
@Suite("WAL synced off the writer", .timeLimit(.minutes(1)))
struct WALSyncTests {
    /// Whether a task got past a point.
    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    @Test("a full write returns only after the WAL's fsync, and the writer serves other writes while it runs")
    func fullWriteWaitsForTheSyncNotTheWriter() async throws {
        let held = HeldFlush()
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 10, walFlush: held.flush)
        let sync = await store.walSync
        try #require(sync != nil, "the WAL could not be opened")
        let returned = Flag()
        let durable = Job(kind: .chat, origin: .jobs, model: "m", request: Data("{}".utf8), stream: false)
        let submission = Task {
            _ = try await store.enqueue(durable)
            returned.set()
        }
        var starts = held.started.makeAsyncIterator()
        await starts.next()
        // The fsync is under way: the commit is made and the writer is free, so a deferred write (a claim) goes
        // through meanwhile.
        let claimed = try await store.claimNext(chatSlot: nil, policy: .init())
        #expect(claimed?.id == durable.id)
        #expect(!returned.isSet, "the full write returned before its fsync ended")
        held.release()
        try await submission.value
        #expect(returned.isSet)
        #expect(held.flushes == 1)
    }

    @Test("the writes outside the queue (a key, a file, a batch) return only after the WAL's fsync", arguments: ["key", "file", "batch"])
    func otherWritesWaitForTheSync(_ write: String) async throws {
        let held = HeldFlush()
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 10, walFlush: held.flush)
        let returned = Flag()
        let (returns, returnsContinuation) = AsyncStream<Void>.makeStream()
        let task = Task {
            defer { returnsContinuation.finish() }
            switch write {
            case "key": try await store.insertKey(APIKey(name: "k", scopes: [.inference]), secretHash: [1, 2, 3])
            case "file": try await store.beginFile(StoredFile(purpose: .batch, filename: "in.jsonl"))
            default: try await store.insertBatch(Batch(endpoint: "/v1/chat/completions", inputFileID: "file-x", metadata: nil, webhookURL: nil))
            }
            returned.set()
        }
        // Whichever comes first: the fsync starting, or the write ending without one.
        let first = await withTaskGroup(of: String?.self) { race in
            race.addTask {
                var starts = held.started.makeAsyncIterator()
                return await starts.next().map { "fsync" }
            }
            race.addTask {
                var ends = returns.makeAsyncIterator()
                _ = await ends.next()
                return Task.isCancelled ? nil : "returned"
            }
            let first = await race.next()!
            race.cancelAll()
            return first
        }
        #expect(first == "fsync", "the \(write) did not wait for the WAL's fsync")
        #expect(!returned.isSet, "the \(write) returned before the WAL's fsync ended")
        held.release()
        try await task.value
        #expect(returned.isSet)
    }

    /// Reports each committed change.
    struct Changes: JobTransitionObserver {
        let continuation: AsyncStream<JobState>.Continuation
        func entered(_ job: Job, from old: JobState?) { continuation.yield(job.state) }
        func queueDepthChanged(_ depth: Int) {}
    }

    @Test("full writes that ask while an fsync runs share the next one")
    func groupedSyncs() async throws {
        let held = HeldFlush()
        let (changes, continuation) = AsyncStream<JobState>.makeStream()
        let store = try SQLiteJobStore(
            pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 10, observer: Changes(continuation: continuation), walFlush: held.flush
        )
        // Native jobs commit deferred: no fsync yet.
        var ids: [String] = []
        for _ in 0..<4 {
            guard case .created(let job, _) = try await store.enqueue(Job(kind: .chat, origin: .api, model: "m", request: Data("{}".utf8), stream: false)) else {
                Issue.record("not created")
                return
            }
            ids.append(job.id)
        }
        var committed = changes.makeAsyncIterator()
        for _ in ids { _ = await committed.next() }
        #expect(held.flushes == 0)
        // A cancellation is a full write: the first one's fsync is held, and three more commit meanwhile.
        let (head, rest) = (ids[0], Array(ids.dropFirst()))
        let first = Task { try await store.cancelIfQueued(id: head, reason: "test") }
        var starts = held.started.makeAsyncIterator()
        await starts.next()
        let others = Task {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for id in rest { group.addTask { try await store.cancelIfQueued(id: id, reason: "test") } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
        }
        for _ in 0..<4 { #expect(await committed.next() == .cancelled) }
        held.release()
        #expect(try await first.value)
        // One more fsync covers the three.
        await starts.next()
        held.release()
        #expect(try await others.value == 3)
        #expect(held.flushes == 2)
    }
}
