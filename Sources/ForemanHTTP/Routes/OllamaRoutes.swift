import ForemanEngine
import ForemanDomain
import ForemanTarget
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The native Ollama API as foreman serves it: generations through the queue, the rest live or from the inventory,
/// each at the provider its model names (ADR 0017).
struct OllamaRoutes: Sendable {
    typealias Context = ConnectionContext

    let generation: QueuedGeneration
    let fleet: Fleet
    let maxBodyBytes: Int

    func register(on router: Router<Context>) {
        router.get("/") { _, _ in Self.heartbeat() }
        router.head("/") { _, _ in Self.heartbeat() }
        router.post("/api/chat") { request, context in try await self.generate(request, context, .chat) }
        router.post("/api/generate") { request, context in try await self.generate(request, context, .generate) }
        router.get("/api/tags") { _, _ in try await self.tags() }
        router.head("/api/tags") { _, _ in try await self.tags() }
        router.get("/api/ps") { _, _ in try await self.loaded() }
        router.get("/api/version") { _, _ in try await self.version() }
        router.head("/api/version") { _, _ in try await self.version() }
        router.post("/api/show") { request, _ in try await self.show(request) }
        router.post("/api/embed") { request, context in try await self.embed(request, context, .embed) }
        router.post("/api/embeddings") { request, context in try await self.embed(request, context, .embeddings) }
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
        let job = try await generation.service.nativeJob(kind: kind, model: parsed.model, stream: parsed.stream, request: Data(body.readableBytesView), caller: context.caller)
        return try await generation.respond(to: job, context: context)
    }

    /// `/api/show` at the provider the model names, with the model as that provider names it.
    private func show(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let parsed = try NativeRequest.parse(.show, body: body)
        let route = try await fleet.route(parsed.model, requireKnown: false)
        return try await TargetProxy(target: route.provider.target).forward(.POST, NativeRequest.Endpoint.show.rawValue, body: route.body(body))
    }

    private func embed(_ request: Request, _ context: Context, _ endpoint: NativeRequest.Endpoint) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let parsed = try NativeRequest.parse(endpoint, body: body)
        let route = try await fleet.route(parsed.model, requireKnown: false)
        return try await EmbeddingsRoute.send(
            endpoint.rawValue, model: route.model, body: route.body(body), lane: route.provider.embeddings, service: generation.service,
            caller: context.caller
        )
    }

    private func tags() async throws -> Response {
        Self.json(try await ModelCatalog(fleet: fleet).tags())
    }

    /// `/api/ps`: the one provider's, relayed, or every online provider's merged as `/api/tags` is.
    private func loaded() async throws -> Response {
        guard fleet.namesProviders else { return try await TargetProxy(target: fleet.providers[0].target).forward(.GET, "/api/ps") }
        let lists = await withTaskGroup(of: (Int, String, ByteBuffer)?.self) { group in
            for (index, provider) in fleet.providers.enumerated() where await provider.inventory.snapshot.reachable {
                group.addTask {
                    guard let response = try? await provider.target.send(TargetRequest(method: .GET, path: "/api/ps")), response.isSuccess,
                        let body = try? await response.body.collect(upTo: 4 << 20)
                    else { return nil }
                    return (index, provider.name, body)
                }
            }
            var lists: [(Int, String, ByteBuffer)] = []
            for await list in group { if let list { lists.append(list) } }
            return lists.sorted { $0.0 < $1.0 }.map { (provider: $0.1, body: $0.2) }
        }
        return Self.json(ModelListing.merge(lists))
    }

    /// `/api/version`: the one provider's; in a fleet, the first online Ollama's, else the version of Ollama's API that
    /// foreman's native surface follows.
    private func version() async throws -> Response {
        guard fleet.namesProviders else { return try await TargetProxy(target: fleet.providers[0].target).forward(.GET, "/api/version") }
        for provider in fleet.providers where provider.kind == .ollama {
            guard await provider.inventory.snapshot.reachable else { continue }
            if let response = try? await TargetProxy(target: provider.target).forward(.GET, "/api/version"), response.status == .ok { return response }
        }
        return Self.json(ByteBuffer(string: #"{"version":"\#(Self.followedVersion)"}"#))
    }

    /// The Ollama release whose API the native surface follows (`docs/architecture.md`).
    static let followedVersion = "0.32.15"

    private static func json(_ body: ByteBuffer) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
    }
}
