import ForemanDomain
import GRDB

/// What the store knows about the work in line: a model's (ADR 0023), and the queue in order.
extension SQLiteJobStore {
    public nonisolated func generationsInFlight(model: String, provider: String) async throws -> Int {
        // Grouped in SQL, matched here: the names are compared as Ollama normalizes them, which SQL cannot.
        let groups = try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT model, provider, ran_on, COUNT(*) AS jobs FROM job
                    WHERE state IN ('queued', 'running') AND kind != 'embed' GROUP BY model, provider, ran_on
                    """
            )
        }
        return groups.reduce(0) { sum, row in
            let bound: String? = row["provider"]
            let ranOn: String? = row["ran_on"]
            let mayRunThere = bound.map { $0 == provider } ?? (ranOn == nil || ranOn == provider)
            return sum + (mayRunThere && ModelName.normalized(row["model"] as String) == model ? row["jobs"] as Int : 0)
        }
    }

    /// The first `limit` queued jobs of `lane` in the order they are to run (higher priorities first, then age), with
    /// their places and estimated starts: read by `seq` from the in-memory order, whatever the queue's depth.
    public func queuedInOrder(lane: JobLane, limit: Int) async throws -> [JobSnapshot] {
        let seqs = view.order.first(limit, lane: lane)
        guard !seqs.isEmpty else { return [] }
        let jobs = try await pool.read { db in
            try Job.filter(seqs.contains(Job.Columns.seq)).fetchAll(db)
        }
        let rank = Dictionary(uniqueKeysWithValues: seqs.enumerated().map { ($1, $0) })
        let view = self.view
        return jobs.sorted { (rank[$0.seq ?? 0] ?? 0) < (rank[$1.seq ?? 0] ?? 0) }.map { view.snapshot($0, artifacts: []) }
    }
}
