import ForemanCore
import Foundation
import Hummingbird

/// `GET /healthz`: whether the target is usable, and what the queue is doing. No auth, for monitors.
struct HealthRoutes<Context: RequestContext>: Sendable {
    let targetURL: String
    let inventory: Inventory
    let store: JobStore
    let worker: Worker

    func register(on router: Router<Context>) {
        router.get("/healthz") { _, _ in try await self.health() }
    }

    private func health() async throws -> Response {
        let snapshot = await inventory.snapshot
        let report = HealthReport(
            status: snapshot.degraded ? "degraded" : "ok",
            target: targetURL,
            reachable: snapshot.reachable,
            lastPollAt: snapshot.lastPollAt.map(Timestamp.string),
            lastError: snapshot.lastError,
            models: snapshot.models.count,
            queueDepth: await store.queueDepth,
            runningJob: await worker.running.map {
                .init(id: $0.id, kind: $0.kind.rawValue, model: $0.model, origin: $0.origin.rawValue, startedAt: $0.startedAt.map(Timestamp.string))
            }
        )
        return try JSONLine.response(report, status: snapshot.degraded ? .serviceUnavailable : .ok)
    }
}

/// The `/healthz` body. Absent values are written as `null` so monitors can rely on every key.
struct HealthReport: Encodable {
    struct RunningJob: Encodable {
        var id, kind, model, origin: String
        var startedAt: String?
        enum CodingKeys: String, CodingKey { case id, kind, model, origin, startedAt = "started_at" }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(kind, forKey: .kind)
            try c.encode(model, forKey: .model)
            try c.encode(origin, forKey: .origin)
            try c.encode(startedAt, forKey: .startedAt)
        }
    }

    var status, target: String
    var reachable: Bool
    var lastPollAt, lastError: String?
    var models, queueDepth: Int
    var runningJob: RunningJob?

    enum CodingKeys: String, CodingKey {
        case status, target, reachable, models
        case lastPollAt = "last_poll_at", lastError = "last_error", queueDepth = "queue_depth", runningJob = "running_job"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(target, forKey: .target)
        try c.encode(reachable, forKey: .reachable)
        try c.encode(lastPollAt, forKey: .lastPollAt)
        try c.encode(lastError, forKey: .lastError)
        try c.encode(models, forKey: .models)
        try c.encode(queueDepth, forKey: .queueDepth)
        try c.encode(runningJob, forKey: .runningJob)
    }
}
