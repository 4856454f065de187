import ForemanEngine
import ForemanDomain
import Foundation
import Hummingbird

/// `GET /healthz`: whether the target is usable, and what the queue is doing. No auth, for monitors.
///
/// Without the token it answers the status alone (`{"status":"ok"}`, 503 when degraded): the target's address, its
/// models and the running job's id are for the operator, not for whoever can reach the port. With the token (or when
/// foreman runs without one, on loopback) every key is present, `null` when empty, so monitors can rely on them.
struct HealthRoutes<Context: RequestContext>: Sendable {
    /// The token check; `nil` when foreman runs without a token.
    let verifier: BearerTokenVerifier?
    let targetURL: String
    let service: JobService
    /// The box whose inventory and residency the report shows.
    let provider: Provider

    func register(on router: Router<Context>) {
        router.get("/healthz") { request, _ in
            try await self.health(details: self.verifier?.verify(authorization: request.headers[.authorization]) ?? true)
        }
    }

    private func health(details: Bool) async throws -> Response {
        let snapshot = await provider.inventory.snapshot
        let storeFailure = service.health.failure
        let degraded = snapshot.degraded || storeFailure != nil
        var report = JSONObjectWriter()
        report.string("status", degraded ? "degraded" : "ok")
        guard details else {
            return JSONLine.response(report.finished(), status: degraded ? .serviceUnavailable : .ok)
        }
        report.string("target", URLRedaction.redactingUserinfo(in: targetURL))
        report.bool("reachable", snapshot.reachable)
        report.date("last_poll_at", snapshot.lastPollAt)
        report.string("last_error", snapshot.lastError)
        report.int("models", snapshot.models.count)
        report.string("store_error", storeFailure?.description)
        report.int("queue_depth", service.queueDepth)
        var running: String?
        if let job = await service.runningGeneration {
            var item = JSONObjectWriter()
            item.string("id", job.id)
            item.string("kind", job.kind.rawValue)
            item.string("model", job.model)
            item.string("origin", job.origin.rawValue)
            item.date("started_at", job.startedAt)
            running = item.finished()
        }
        report.raw("running_job", running)
        let slots = await provider.residency.slots
        var residencyReport = JSONObjectWriter()
        residencyReport.string("chat_slot", slots.chat)
        residencyReport.string("embed_slot", slots.embed)
        residencyReport.int("embeddings_in_flight", await provider.embeddings.running)
        residencyReport.int("unloads_sent", await provider.residency.unloadsSent)
        residencyReport.raw("embedding_models", "[" + (await provider.residency.embeddingModels()).map(JSONObjectWriter.quoted).joined(separator: ",") + "]")
        report.raw("residency", residencyReport.finished())
        return JSONLine.response(report.finished(), status: degraded ? .serviceUnavailable : .ok)
    }
}
