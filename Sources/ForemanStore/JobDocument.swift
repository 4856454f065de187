import ForemanDomain
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
        writer.string("model", job.modelID)
        writer.string("provider", job.ranOn)
        writer.int("priority", job.priority)
        writer.date("created_at", job.createdAt)
        writer.date("started_at", job.startedAt)
        writer.date("finished_at", job.finishedAt)
        writer.int("attempts", job.attempts)
        writer.string("error", job.error)
        writer.string("state_webhook_url", job.stateWebhookURL.map(URLRedaction.redactingUserinfo(in:)))
        writer.raw("metadata", job.metadata)
        writer.int("queue_position", job.state == .queued ? queuePosition : nil)
        writer.date("estimated_start_at", job.state == .queued ? estimatedStartAt : nil)
        writer.raw("artifacts", renderArtifacts(jobID: job.id, artifacts))
        return writer.finished()
    }

    /// The job object of what a read returned.
    public static func render(_ snapshot: JobSnapshot) -> String {
        render(snapshot.job, queuePosition: snapshot.queuePosition, estimatedStartAt: snapshot.estimatedStartAt, artifacts: snapshot.artifacts)
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
    static func render(_ db: Database, _ job: Job, view: QueueView, now: Date = Date()) throws -> String {
        render(job, artifacts: try ArtifactInfo.fetchAll(db, jobID: job.id), view: view, now: now)
    }

    /// Renders `job` with its artifacts, placed by `view` when it is queued.
    static func render(_ job: Job, artifacts: [ArtifactInfo], view: QueueView, now: Date = Date()) -> String {
        render(view.snapshot(job, artifacts: artifacts, now: now))
    }
}

/// What the store knows in memory about its queue (the tally, the order of queued jobs and recent run times):
/// enough to place a job and estimate its start without a query.
struct QueueView: Sendable {
    var tally: QueueTally
    var runTimes: RunTimes
    var order: QueueOrder

    /// 1-based place of queued `job` in its lane (embed jobs have their own, ADR 0008): higher priorities first,
    /// then age. Affinity may still move a job ahead of its place (ADR 0007), within the bound.
    ///
    /// Read from the in-memory ``QueueOrder``: no count over the jobs ahead, however deep the queue.
    func place(of job: Job) -> Int {
        order.place(job.seq ?? .max, lane: job.kind.lane, priority: job.priority)
    }

    /// `job` with its artifacts, and its place and estimated start when it is queued.
    func snapshot(_ job: Job, artifacts: [ArtifactInfo], now: Date = Date()) -> JobSnapshot {
        guard job.state == .queued else { return JobSnapshot(job: job, artifacts: artifacts) }
        let place = self.place(of: job)
        return JobSnapshot(
            job: job, artifacts: artifacts, queuePosition: place, estimatedStartAt: estimatedStart(lane: job.kind.lane, position: place, now: now)
        )
    }

    /// Where a job just inserted stands: last of its priority in its lane (the tally already counts it).
    func placementOfNewest(_ job: Job, now: Date) -> JobPlacement {
        let position = tally.placeOfNewest(lane: job.kind.lane, priority: job.priority)
        return JobPlacement(position: position, estimatedStartAt: estimatedStart(lane: job.kind.lane, position: position, now: now))
    }

    /// When the job at `position` should start: everything ahead of it and everything running now, at the
    /// lane's recent run time; `nil` until a run time is known.
    func estimatedStart(lane: JobLane, position: Int, now: Date) -> Date? {
        guard let average = runTimes.average(for: lane) else { return nil }
        return now.addingTimeInterval(Double(position - 1 + tally.running(in: lane)) * average)
    }
}

/// How long recent jobs of each lane ran, for the estimated start of queued ones.
struct RunTimes: Sendable {
    private var generation: Double?
    private var embed: Double?

    func average(for lane: JobLane) -> Double? { lane == .embeddings ? embed : generation }

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
