import ForemanDomain
import ForemanEngine
import ForemanTarget
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Ollama's model management through foreman (ADR 0023): `pull`, `push`, `create`, `copy`, `delete` and blobs, sent
/// at once to the box the model names, never queued, their answers relayed as they arrive.
struct ModelManagementRoutes: Sendable {
    typealias Context = ConnectionContext

    let manager: ModelManager
    let maxBodyBytes: Int

    func register(on router: Router<Context>) {
        router.post("/api/pull") { request, _ in try await self.pull(request) }
        router.post("/api/push") { request, _ in try await self.push(request) }
        router.post("/api/create") { request, _ in try await self.create(request) }
        router.post("/api/copy") { request, _ in try await self.copy(request) }
        router.delete("/api/delete") { request, _ in try await self.delete(request) }
        router.head("/api/blobs/:digest") { request, context in try await self.blob(request, digest: context.parameters.require("digest"), upload: false) }
        router.post("/api/blobs/:digest") { request, context in try await self.blob(request, digest: context.parameters.require("digest"), upload: true) }
    }

    static var routes: [String: [HTTPRequest.Method]] {
        [
            "/api/pull": [.post], "/api/push": [.post], "/api/create": [.post], "/api/copy": [.post], "/api/delete": [.delete],
            "/api/blobs/:digest": [.head, .post],
        ]
    }

    private func pull(_ request: Request) async throws -> Response {
        var (object, body) = try await Self.object(request, maxBodyBytes)
        let route = try await manager.route(try Self.model(object), verb: "pull", existing: false)
        if route.named { body = try Self.rewriting(&object, ["model": route.model], dropping: ["name"]) }
        return try await relay(route, .POST, "/api/pull", body: body)
    }

    private func push(_ request: Request) async throws -> Response {
        var (object, body) = try await Self.object(request, maxBodyBytes)
        let route = try await manager.route(try Self.model(object), verb: "push", existing: true)
        if route.named { body = try Self.rewriting(&object, ["model": route.model], dropping: ["name"]) }
        return try await relay(route, .POST, "/api/push", body: body)
    }

    /// A create goes where its model names, else where its base (`from`) is.
    private func create(_ request: Request) async throws -> Response {
        var (object, body) = try await Self.object(request, maxBodyBytes)
        let model = try Self.model(object)
        let base = object["from"] as? String
        let route: ModelManager.Route
        if let base, !manager.namesProvider(model) {
            route = try await manager.route(base, verb: "create", existing: true)
        } else {
            route = try await manager.route(model, verb: "create", existing: false)
        }
        var rewritten: [String: String] = [:]
        if manager.namesProvider(model) { rewritten["model"] = manager.boxName(model) }
        if let base, manager.namesProvider(base) {
            guard manager.provider(of: base) == route.provider.name else {
                throw ModelManagementError.copyAcrossProviders(source: base, destination: model)
            }
            rewritten["from"] = manager.boxName(base)
        }
        if !rewritten.isEmpty { body = try Self.rewriting(&object, rewritten, dropping: ["name"]) }
        return try await relay(route, .POST, "/api/create", body: body)
    }

    private func copy(_ request: Request) async throws -> Response {
        var (object, body) = try await Self.object(request, maxBodyBytes)
        guard let source = object["source"] as? String, !source.isEmpty else { throw APIError(.badRequest, "source is required") }
        guard let destination = object["destination"] as? String, !destination.isEmpty else { throw APIError(.badRequest, "destination is required") }
        let route = try await manager.route(source, verb: "copy", existing: true)
        if manager.namesProvider(destination), manager.provider(of: destination) != route.provider.name {
            throw ModelManagementError.copyAcrossProviders(source: source, destination: destination)
        }
        if route.named || manager.namesProvider(destination) {
            body = try Self.rewriting(&object, ["source": route.model, "destination": manager.boxName(destination)], dropping: [])
        }
        return try await relay(route, .POST, "/api/copy", body: body)
    }

    private func delete(_ request: Request) async throws -> Response {
        var (object, body) = try await Self.object(request, maxBodyBytes)
        let route = try await manager.route(try Self.model(object), verb: "delete", existing: true)
        try await manager.checkUnused(route)
        if route.named { body = try Self.rewriting(&object, ["model": route.model], dropping: ["name"]) }
        return try await relay(route, .DELETE, "/api/delete", body: body)
    }

    /// A blob's check (`HEAD`) or upload (`POST`), streamed to the box as it arrives and never held here.
    private func blob(_ request: Request, digest: String, upload: Bool) async throws -> Response {
        // Checked here, with Ollama's words: only a well-formed digest goes into the box's path.
        guard Self.isDigest(digest) else { throw APIError(.badRequest, "invalid digest format") }
        let route = try manager.blobRoute(provider: request.headers[.foremanProvider])
        let path = "/api/blobs/" + digest
        guard upload else {
            let response = try await send(route, .HEAD, path, body: .none)
            return Response(status: .init(code: response.status), headers: [.contentType: response.contentType ?? "application/json; charset=utf-8"])
        }
        let length = request.headers[.contentLength].flatMap { Int($0) }
        return try await relay(route, .POST, path, body: .stream(TargetBody(request.body), length: length), contentType: request.headers[.contentType])
    }

    /// Sends the call and relays the box's answer as it arrives. Once a call that changes what the box holds has
    /// ended well, the box's inventory is polled before the answer ends, so a listing made after it sees the change.
    private func relay(
        _ route: ModelManager.Route, _ method: TargetRequest.Method, _ path: String, body: ModelManagementTarget.Body, contentType: String? = nil
    ) async throws -> Response {
        let response = try await send(route, method, path, body: body, contentType: contentType)
        let succeeded = (200..<300).contains(response.status)
        let manager = self.manager
        return Response(
            status: .init(code: response.status),
            headers: [.contentType: response.contentType ?? "application/json; charset=utf-8"],
            body: ResponseBody { writer in
                var last = ByteBuffer()
                for try await chunk in response.body {
                    last = chunk
                    try await writer.write(chunk)
                }
                // A stream that went wrong ends with an `{"error": …}` line, still under a 200.
                if succeeded, !RawJSONFields.mentions(Self.errorKey, in: last) { await manager.refresh(route) }
                try await writer.finish(nil)
            }
        )
    }

    private static let errorKey = RawJSONFields.QuotedKey("error")

    private func send(
        _ route: ModelManager.Route, _ method: TargetRequest.Method, _ path: String, body: ModelManagementTarget.Body, contentType: String? = nil
    ) async throws -> TargetResponse {
        do {
            return try await route.target.send(method, path, body: body, contentType: contentType)
        } catch let error as TargetError {
            throw APIError(.badGateway, "provider '\(route.provider.name)': \(error.description)")
        }
    }

    /// `sha256:` and 64 lowercase hexadecimal digits, as Ollama names blobs.
    static func isDigest(_ text: String) -> Bool {
        let hex = text.utf8.dropFirst("sha256:".count)
        return text.hasPrefix("sha256:") && hex.count == 64
            && hex.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    /// The body, parsed, and as it came.
    private static func object(_ request: Request, _ limit: Int) async throws -> ([String: Any], ModelManagementTarget.Body) {
        var request = request
        let body = try await request.collectBody(upTo: limit)
        return (try NativeRequest.jsonObject(body), .bytes(body))
    }

    /// `model`, or Ollama's older `name`.
    private static func model(_ object: [String: Any]) throws -> String {
        for field in ["model", "name"] {
            if let value = object[field], !(value is NSNull) {
                guard let text = value as? String else { throw RequestError.wrongType(field, expected: "a string") }
                if !text.isEmpty { return ModelName.trimmed(text) }
            }
        }
        throw APIError(.badRequest, "model is required")
    }

    /// The body with `fields` set to the box's names: written again only when a name named a provider.
    private static func rewriting(_ object: inout [String: Any], _ fields: [String: String], dropping: [String]) throws -> ModelManagementTarget.Body {
        for (field, value) in fields { object[field] = value }
        for field in dropping where fields["model"] != nil { object[field] = nil }
        return .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])))
    }
}

extension HTTPField.Name {
    /// The provider a blob goes to, in a fleet (ADR 0023).
    static let foremanProvider = Self("X-Foreman-Provider")!
}
