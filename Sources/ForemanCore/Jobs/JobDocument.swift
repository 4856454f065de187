import Foundation
import GRDB

/// Renders the public job object: what `GET /jobs/{id}` answers and what webhooks carry as `data`.
public enum JobDocument {
    /// The job object as JSON text. Every key is present; `metadata` is the caller's JSON byte for byte.
    public static func render(_ job: Job, queuePosition: Int?, estimatedStartAt: Date? = nil, artifacts: [ArtifactInfo]) -> String {
        var writer = JSONObjectWriter()
        writer.string("id", job.id)
        writer.string("kind", job.kind.rawValue)
        writer.string("origin", job.origin.rawValue)
        writer.string("state", job.state.rawValue)
        writer.string("model", job.model)
        writer.int("priority", job.priority)
        writer.date("created_at", job.createdAt)
        writer.date("started_at", job.startedAt)
        writer.date("finished_at", job.finishedAt)
        writer.int("attempts", job.attempts)
        writer.string("error", job.error)
        writer.string("state_webhook_url", job.stateWebhookURL)
        writer.raw("metadata", job.metadata)
        writer.int("queue_position", job.state == .queued ? queuePosition : nil)
        writer.date("estimated_start_at", job.state == .queued ? estimatedStartAt : nil)
        writer.raw("artifacts", renderArtifacts(jobID: job.id, artifacts))
        return writer.finished()
    }

    /// The `artifacts` array: name, content type, size and download URL of each.
    public static func renderArtifacts(jobID: String, _ artifacts: [ArtifactInfo]) -> String {
        let items = artifacts.map { artifact -> String in
            var item = JSONObjectWriter()
            item.string("name", artifact.name)
            item.string("content_type", artifact.contentType)
            item.int("size", artifact.size)
            item.string("url", "/jobs/\(jobID)/artifacts/\(artifact.name)")
            return item.finished()
        }
        return "[" + items.joined(separator: ",") + "]"
    }

    /// A JSON string literal.
    public static func quoted(_ text: String) -> String { JSONObjectWriter.quoted(text) }

    /// Renders `job` as it stands in `db` (position, estimated start and artifacts included).
    static func render(_ db: Database, _ job: Job, runTimes: RunTimes, now: Date = Date()) throws -> String {
        var position: Int?
        var estimate: Date?
        if job.state == .queued {
            let place = try queuePosition(db, job)
            position = place
            if let average = runTimes.average(for: job.kind) {
                let running = try Int.fetchOne(
                    db,
                    sql: "SELECT COUNT(*) FROM job WHERE state = 'running' AND (kind = 'embed') = ?",
                    arguments: [job.kind == .embed]
                ) ?? 0
                estimate = now.addingTimeInterval(Double(place - 1 + running) * average)
            }
        }
        return render(job, queuePosition: position, estimatedStartAt: estimate, artifacts: try ArtifactInfo.fetchAll(db, jobID: job.id))
    }

    /// 1-based place in its lane's queue (embed jobs have their own, ADR 0008): higher priorities first, then
    /// age. Affinity may still move a job ahead of its place (ADR 0007), within the bound.
    static func queuePosition(_ db: Database, _ job: Job) throws -> Int {
        let ahead = try Int.fetchOne(
            db,
            sql: """
                SELECT COUNT(*) FROM job WHERE state = 'queued' AND (kind = 'embed') = ?
                AND (priority > ? OR (priority = ? AND seq < ?))
                """,
            arguments: [job.kind == .embed, job.priority, job.priority, job.seq]
        ) ?? 0
        return ahead + 1
    }
}

/// How long recent jobs of each lane ran, for the estimated start of queued ones.
struct RunTimes: Sendable {
    private var generation: Double?
    private var embed: Double?

    func average(for kind: JobKind) -> Double? { kind == .embed ? embed : generation }

    /// Folds in one successful run (an exponentially weighted mean: recent runs count most).
    mutating func add(_ seconds: Double, kind: JobKind) {
        let weight = 0.2
        if kind == .embed {
            embed = embed.map { $0 + weight * (seconds - $0) } ?? seconds
        } else {
            generation = generation.map { $0 + weight * (seconds - $0) } ?? seconds
        }
    }
}
