import ForemanCore
import Foundation
import Hummingbird

/// `GET /healthz`: whether the target is usable, and what the queue is doing. No auth, for monitors.
///
/// Every key is always present (`null` when empty) so monitors can rely on them.
struct HealthRoutes<Context: RequestContext>: Sendable {
    let targetURL: String
    let inventory: Inventory
    let store: JobStore
    let worker: Worker
    let residency: Residency
    let embeddings: EmbeddingLane

    func register(on router: Router<Context>) {
        router.get("/healthz") { _, _ in try await self.health() }
    }

    private func health() async throws -> Response {
        let snapshot = await inventory.snapshot
        var report = JSONObjectWriter()
        report.string("status", snapshot.degraded ? "degraded" : "ok")
        report.string("target", targetURL)
        report.bool("reachable", snapshot.reachable)
        report.date("last_poll_at", snapshot.lastPollAt)
        report.string("last_error", snapshot.lastError)
        report.int("models", snapshot.models.count)
        report.int("queue_depth", await store.queueDepth)
        var running: String?
        if let job = await worker.running.first {
            var item = JSONObjectWriter()
            item.string("id", job.id)
            item.string("kind", job.kind.rawValue)
            item.string("model", job.model)
            item.string("origin", job.origin.rawValue)
            item.date("started_at", job.startedAt)
            running = item.finished()
        }
        report.raw("running_job", running)
        let slots = await residency.slots
        var residencyReport = JSONObjectWriter()
        residencyReport.string("chat_slot", slots.chat)
        residencyReport.string("embed_slot", slots.embed)
        residencyReport.int("embeddings_in_flight", await embeddings.running)
        residencyReport.int("unloads_sent", await residency.unloadsSent)
        residencyReport.raw("embedding_models", "[" + (await residency.embeddingModels()).map(JSONObjectWriter.quoted).joined(separator: ",") + "]")
        report.raw("residency", residencyReport.finished())
        return JSONLine.response(report.finished(), status: snapshot.degraded ? .serviceUnavailable : .ok)
    }
}
