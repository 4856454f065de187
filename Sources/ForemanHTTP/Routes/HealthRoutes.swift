import ForemanEngine
import ForemanDomain
import Foundation
import Hummingbird

/// `GET /healthz`: whether the providers are usable, and what the queue is doing. No auth, for monitors.
///
/// Without the token it answers the status alone (`{"status":"ok"}`, 503 when degraded): the target's address, its
/// models and the running job's id are for the operator, not for whoever can reach the port. With the token (or when
/// foreman runs without one, on loopback) every key is present, `null` when empty, so monitors can rely on them.
struct HealthRoutes<Context: RequestContext>: Sendable {
    /// The token check; `nil` when foreman runs without a token.
    let verifier: BearerTokenVerifier?
    /// Each provider's address, by name.
    let providerURLs: [String: String]
    let service: JobService
    /// Closed once a graceful shutdown has begun: foreman is then not ready for new work.
    let gate: ShutdownGate

    func register(on router: Router<Context>) {
        router.get("/healthz") { request, _ in
            try await self.health(details: self.verifier?.verify(authorization: request.headers[.authorization]) ?? true)
        }
        // Kubernetes' probes (ADR 0023): alive while it answers; ready while it can take work. Readiness does not
        // follow the boxes: foreman keeps accepting durable work while a box is away, and `/healthz` says so.
        router.get("/livez") { _, _ in JSONLine.response(#"{"status":"ok"}"#, status: .ok) }
        router.get("/readyz") { _, _ in await self.readiness() }
    }

    private func readiness() async -> Response {
        var report = JSONObjectWriter()
        let reason: String? =
            if await !gate.isOpen { "foreman is shutting down" } else { service.health.failure.map { "the store cannot write: \($0.description)" } }
        report.string("status", reason == nil ? "ready" : "not ready")
        if let reason { report.string("reason", reason) }
        return JSONLine.response(report.finished(), status: reason == nil ? .ok : .serviceUnavailable)
    }

    private func health(details: Bool) async throws -> Response {
        let providers = service.fleet.providers
        var snapshots: [Inventory.Snapshot] = []
        for provider in providers { snapshots.append(await provider.inventory.snapshot) }
        let storeFailure = service.health.failure
        let down = snapshots.filter(\.degraded).count
        let degraded = down > 0 || storeFailure != nil
        var report = JSONObjectWriter()
        report.string("status", degraded ? "degraded" : "ok")
        guard details else {
            return JSONLine.response(report.finished(), status: degraded ? .serviceUnavailable : .ok)
        }
        // The keys a monitor of one box reads keep their meaning; with several providers they sum the fleet up, and
        // `providers` has each one.
        let alone = providers.count == 1 && !service.fleet.namesProviders
        report.string("target", alone ? providerURLs[providers[0].name].map(URLRedaction.redactingUserinfo(in:)) : nil)
        report.bool("reachable", snapshots.allSatisfy(\.reachable))
        report.date("last_poll_at", snapshots.compactMap(\.lastPollAt).min())
        let failing = zip(providers, snapshots).first { $0.1.lastError != nil }
        report.string("last_error", failing.flatMap { provider, snapshot in alone ? snapshot.lastError : "\(provider.name): \(snapshot.lastError ?? "")" })
        report.int("models", snapshots.reduce(into: Set<String>()) { $0.formUnion($1.models) }.count)
        report.string("store_error", storeFailure?.description)
        report.int("queue_depth", service.queueDepth)
        var running: String?
        for provider in providers where running == nil {
            if let job = await provider.generationWorker.running.first { running = Self.runningJob(job) }
        }
        report.raw("running_job", running)
        report.raw("residency", alone ? await Self.residency(of: providers[0]) : nil)
        report.string("fleet", down == 0 ? "up" : down == providers.count ? "down" : "partial")
        var entries: [String] = []
        for (provider, snapshot) in zip(providers, snapshots) {
            var entry = JSONObjectWriter()
            entry.string("name", provider.name)
            entry.string("kind", provider.kind.rawValue)
            entry.string("url", providerURLs[provider.name].map(URLRedaction.redactingUserinfo(in:)))
            entry.bool("reachable", snapshot.reachable)
            entry.date("last_poll_at", snapshot.lastPollAt)
            entry.string("last_error", snapshot.lastError)
            entry.int("models", snapshot.models.count)
            entry.int("concurrency", provider.concurrency)
            entry.int("queue_depth", provider.generationWorker.waitingCalls)
            entry.raw("running_jobs", "[" + (await provider.generationWorker.running).map(Self.runningJob).joined(separator: ",") + "]")
            entry.raw("residency", await Self.residency(of: provider))
            entries.append(entry.finished())
        }
        report.raw("providers", "[" + entries.joined(separator: ",") + "]")
        return JSONLine.response(report.finished(), status: degraded ? .serviceUnavailable : .ok)
    }

    private static func runningJob(_ job: Job) -> String {
        var item = JSONObjectWriter()
        item.string("id", job.id)
        item.string("kind", job.kind.rawValue)
        item.string("model", job.modelID)
        item.string("origin", job.origin.rawValue)
        item.date("started_at", job.startedAt)
        return item.finished()
    }

    /// The provider's two slots. An OpenAI-compatible engine swaps models by itself: its slots name the models it ran
    /// last (ADR 0017).
    private static func residency(of provider: Provider) async -> String {
        let slots = await provider.residency.slots
        var residency = JSONObjectWriter()
        residency.string("chat_slot", slots.chat)
        residency.string("embed_slot", slots.embed)
        residency.int("embeddings_in_flight", await provider.embeddings.running)
        residency.int("unloads_sent", await provider.residency.unloadsSent)
        residency.raw("embedding_models", "[" + (await provider.residency.embeddingModels()).map(JSONObjectWriter.quoted).joined(separator: ",") + "]")
        return residency.finished()
    }
}
