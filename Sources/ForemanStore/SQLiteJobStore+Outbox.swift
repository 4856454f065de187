import ForemanDomain
import Foundation
import GRDB

/// The webhook outbox's reads and writes: the delivery service sends, the store reads and writes its rows.
extension SQLiteJobStore {

    /// The due events of the endpoints asked about, each job's oldest pending one first (ADR 0015), and what the read
    /// learned of endpoints: those with events written after `seen` and those asked about that have none left.
    public nonisolated func dueDeliveries(asks: [OutboxAsk], known: Set<String>, fresh: Int, after seen: Int64, now: Date) async throws -> OutboxRead {
        try await pool.read { db in try OutboxRead(db, asks: asks, known: known, fresh: fresh, after: seen, now: now) }
    }

    /// Records one delivery attempt; with `givingUpBefore`, also gives up the endpoint's pending events created
    /// before it. Returns how many were given up.
    public nonisolated func recordAttempt(_ delivery: WebhookDelivery, givingUpBefore cutoff: Date?) async throws -> Int {
        try await writeDurably { db -> Int in
            try delivery.update(db)
            guard let cutoff else { return 0 }
            try db.execute(
                sql: """
                    UPDATE webhook_delivery SET state = 'failed', last_error = 'given up: the endpoint kept failing'
                    WHERE state = 'pending' AND endpoint = ? AND created_at < ?
                    """,
                arguments: [delivery.endpoint, DatabaseDate.storage(cutoff)]
            )
            return db.changesCount
        }
    }
}

extension OutboxRead {
    /// Reads the due events of the endpoints in `asks`, and of endpoints seen for the first time (not in `known`),
    /// which may start `fresh` attempts, so a new endpoint's first event goes out on the wake its commit sent.
    init(_ db: Database, asks: [OutboxAsk], known: Set<String>, fresh: Int, after seen: Int64, now: Date) throws {
        var asks = asks
        seenThrough = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM webhook_delivery") ?? seen
        if seenThrough > seen {
            newEndpoints = Set(try String.fetchAll(
                db, sql: "SELECT DISTINCT endpoint FROM webhook_delivery WHERE seq > ? AND state = 'pending'", arguments: [seen]
            ))
            asks += newEndpoints.subtracting(known).map { OutboxAsk(endpoint: $0, room: fresh, busy: 0) }
        }
        // One endpoint's due events in order, from the partial index; a job's later event waits for its earlier one.
        let dueOfEndpoint = try db.cachedStatement(sql: """
            SELECT d.* FROM webhook_delivery AS d
            WHERE d.state = 'pending' AND d.endpoint = ? AND d.next_attempt_at <= ?
              AND NOT EXISTS (SELECT 1 FROM webhook_delivery AS e WHERE e.job_id = d.job_id AND e.state = 'pending' AND e.seq < d.seq)
            ORDER BY d.next_attempt_at, d.seq LIMIT ?
            """)
        let pending = try db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM webhook_delivery WHERE state = 'pending' AND endpoint = ?)")
        let stamp = DatabaseDate.storage(now)
        for ask in asks {
            let found = try WebhookDelivery.fetchAll(dueOfEndpoint, arguments: [ask.endpoint, stamp, ask.room + ask.busy])
            deliveries += found
            if found.isEmpty, ask.busy == 0, try Bool.fetchOne(pending, arguments: [ask.endpoint]) != true {
                drained.append(ask.endpoint)
            }
        }
        deliveries.sort { ($0.nextAttemptAt, $0.seq ?? 0) < ($1.nextAttemptAt, $1.seq ?? 0) }
    }
}
