import ForemanDomain
import ForemanEngine
import ForemanStore
import Hummingbird

/// `GET /queue?limit=` (ADR 0023): the work in line at each provider, running and queued, in the order it is to run,
/// each as its job object with its place and estimated start, so a caller can see why it waits. A key sees its own
/// work; the admin scope sees everyone's.
struct QueueRoutes: Sendable {
    let service: JobService

    func register(on router: Router<ConnectionContext>) {
        router.get("/queue") { request, context in try await self.queue(request, context.caller) }
    }

    private func queue(_ request: Request, _ caller: APIKey) async throws -> Response {
        var limit = 100
        if let text = request.uri.queryParameters["limit"] {
            guard let value = Int(text), (1...1000).contains(value) else { throw APIError(.badRequest, "invalid 'limit': expected a whole number from 1 to 1000") }
            limit = value
        }
        let lines = try await service.queue(limit: limit, owner: caller.listedOwner)
        let rendered = lines.map { line in
            var writer = JSONObjectWriter()
            writer.string("provider", line.provider)
            writer.raw("running", JSONObjectWriter.array(line.running.map { JobDocument.render($0) }))
            writer.raw("queued", JSONObjectWriter.array(line.queued.map { JobDocument.render($0) }))
            return writer.finished()
        }
        var writer = JSONObjectWriter()
        writer.raw("providers", JSONObjectWriter.array(rendered))
        writer.int("queue_depth", service.queueDepth)
        return JSONLine.response(writer.finished(), status: .ok)
    }
}
