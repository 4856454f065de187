import ForemanDomain
import GRDB

/// What the store knows about a model's work (ADR 0023).
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
}
