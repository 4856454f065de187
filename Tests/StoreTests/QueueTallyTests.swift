import ForemanEngine
import ForemanDomain
@testable import ForemanStore
import ForemanTestSupport
import Foundation
import GRDB
import Testing

/// The store's in-memory tally (ADR 0010) against the table it stands for.
@Suite("Queue tally")
struct QueueTallyTests {
    @Test("positions, depth and placements match a count of the table over random submissions, claims, cancels and requeues", arguments: [1, 2, 3, 4] as [UInt64])
    func tallyMatchesTable(seed: UInt64) async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: path), maxQueue: 1000)
        var random = SplitMix64(state: seed)
        var running: [Job] = []
        for step in 0..<150 {
            switch random.next() % 10 {
            case 0..<5:
                let kind: JobKind = [.chat, .generate, .embed][Int(random.next() % 3)]
                let origin: JobOrigin = random.next() % 2 == 0 ? .api : .jobs
                var job = Job(kind: kind, origin: origin, model: "m", priority: Int(random.next() % 3) - 1, request: Data("{}".utf8), stream: false)
                job.owner = [nil, "key_a", "key_b"][Int(random.next() % 3)]
                guard case .created(let created, let placement) = try await store.enqueue(job) else {
                    Issue.record("step \(step): a new job was not created")
                    return
                }
                let expected = try expectedPositions(store)[created.id]
                #expect(placement.position == expected, "step \(step): placement")
            case 5..<7:
                let claimed = random.next() % 2 == 0 ? try await store.claimNext(chatSlot: nil, policy: .init()) : try await store.claimNextEmbed()
                if let claimed { running.append(claimed) }
            case 7:
                guard !running.isEmpty else { continue }
                let job = running.remove(at: Int(random.next() % UInt64(running.count)))
                try await store.finish(id: job.id, state: .succeeded, durability: job.origin.transitionDurability)
            case 8:
                guard !running.isEmpty else { continue }
                try await store.requeue(id: running.removeLast().id)
            default:
                let queued = try await store.pool.read { db in try String.fetchAll(db, sql: "SELECT id FROM job WHERE state = 'queued'") }
                guard let id = queued.randomElement(using: &random) else { continue }
                let cancelled = try await store.cancelIfQueued(id: id, reason: "test")
                #expect(cancelled)
            }
            let expected = try expectedPositions(store)
            #expect(await store.queueDepth == expected.count, "step \(step): depth")
            let owners = try await store.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT IFNULL(owner, '')) FROM job WHERE state = 'queued' AND kind != 'embed'") ?? 0
            }
            #expect(await store.tally.queuedOwners(in: .generation) == owners, "step \(step): owners")
            for (id, position) in expected.sorted(by: { $0.key < $1.key }) {
                let snapshot = try #require(try await store.snapshot(id: id))
                #expect(snapshot.queuePosition == position, "step \(step): \(id)")
            }
        }
        // A store opened afresh reads the same tally from the table.
        let reopened = try SQLiteJobStore(pool: try ForemanDatabase.open(path: path), maxQueue: 1000)
        let expected = try expectedPositions(store)
        #expect(await reopened.queueDepth == expected.count)
        #expect(await reopened.tally.queuedOwners(in: .generation) == store.tally.queuedOwners(in: .generation))
        for (id, position) in expected {
            #expect(try await reopened.snapshot(id: id)?.queuePosition == position, "reopened: \(id)")
        }
    }

    @Test("without the WAL synced off the writer, a native job's deferred commits leave the writer at synchronous=FULL")
    func deferredWritesRestoreFull() async throws {
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 10, walFlush: nil)
        let job = Job(kind: .chat, origin: .api, model: "m", request: Data("{}".utf8), stream: false)
        _ = try await store.enqueue(job)
        let claimed = try #require(try await store.claimNext(chatSlot: nil, policy: .init()))
        try await store.finish(id: claimed.id, state: .succeeded, durability: .deferred)
        try ForemanDatabase.verifyDurability(store.pool)
    }

    /// Every queued job's place counted the slow way: its lane's jobs of a higher priority, and the older ones
    /// of its own.
    private func expectedPositions(_ store: SQLiteJobStore) throws -> [String: Int] {
        let rows = try store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, kind, priority, seq FROM job WHERE state = 'queued'")
        }
        let jobs = rows.map { (id: $0["id"] as String, embed: ($0["kind"] as String) == "embed", priority: $0["priority"] as Int, seq: $0["seq"] as Int64) }
        var positions: [String: Int] = [:]
        for job in jobs {
            positions[job.id] = 1 + jobs.filter { other in
                other.embed == job.embed && (other.priority > job.priority || (other.priority == job.priority && other.seq < job.seq))
            }.count
        }
        return positions
    }
}
