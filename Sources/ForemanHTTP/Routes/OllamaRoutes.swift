import ForemanEngine
import ForemanDomain
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The native Ollama API as foreman serves it: generations through the queue, the rest live or from the inventory.
struct OllamaRoutes: Sendable {
    typealias Context = ConnectionContext

    let generation: QueuedGeneration
    let proxy: TargetProxy
    let embeddings: EmbeddingsRoute
    let inventory: Inventory
    let poller: InventoryPoller
    let maxBodyBytes: Int

    func register(on router: Router<Context>) {
        router.get("/") { _, _ in Self.heartbeat() }
        router.head("/") { _, _ in Self.heartbeat() }
        router.post("/api/chat") { request, context in try await self.generate(request, context, .chat) }
        router.post("/api/generate") { request, context in try await self.generate(request, context, .generate) }
        router.get("/api/tags") { _, _ in try await self.tags() }
        router.head("/api/tags") { _, _ in try await self.tags() }
        router.get("/api/ps") { _, _ in try await self.proxy.forward(.GET, "/api/ps") }
        router.get("/api/version") { _, _ in try await self.proxy.forward(.GET, "/api/version") }
        router.head("/api/version") { _, _ in try await self.proxy.forward(.GET, "/api/version") }
        router.post("/api/show") { request, _ in try await self.forwardValidated(request, .show) }
        router.post("/api/embed") { request, _ in try await self.embed(request, .embed) }
        router.post("/api/embeddings") { request, _ in try await self.embed(request, .embeddings) }
    }

    /// Every route and the methods it answers, so other methods get 405 rather than 404.
    static var routes: [String: [HTTPRequest.Method]] {
        [
            "/": [.get, .head], "/api/chat": [.post], "/api/generate": [.post], "/api/tags": [.get, .head],
            "/api/ps": [.get], "/api/version": [.get, .head], "/api/show": [.post], "/api/embed": [.post],
            "/api/embeddings": [.post],
        ]
    }

    private static func heartbeat() -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: "Ollama is running"))
        )
    }

    private func generate(_ request: Request, _ context: Context, _ kind: JobKind) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let parsed = try NativeRequest.parse(kind == .chat ? .chat : .generate, body: body)
        let job = try await generation.service.nativeJob(kind: kind, model: parsed.model, stream: parsed.stream, request: Data(body.readableBytesView))
        return try await generation.respond(to: job, context: context)
    }

    private func forwardValidated(_ request: Request, _ endpoint: NativeRequest.Endpoint) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        _ = try NativeRequest.parse(endpoint, body: body)
        return try await proxy.forward(.POST, endpoint.rawValue, body: body)
    }

    private func embed(_ request: Request, _ endpoint: NativeRequest.Endpoint) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let parsed = try NativeRequest.parse(endpoint, body: body)
        return try await embeddings.send(endpoint.rawValue, model: parsed.model, body: body)
    }

    private func tags() async throws -> Response {
        var body = await inventory.snapshot.tagsBody
        if body == nil, await poller.refresh() {
            body = await inventory.snapshot.tagsBody
        }
        guard let body else {
            let reason = await inventory.snapshot.lastError ?? "no inventory yet"
            throw APIError(.badGateway, reason)
        }
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
    }
}
