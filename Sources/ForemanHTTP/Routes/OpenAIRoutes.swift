import ForemanDomain
import ForemanEngine
import ForemanTarget
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// OpenAI's API as foreman serves it (ADR 0019): generations as queued jobs of origin `openai`, embeddings through
/// the provider's fast lane, the models from the same catalog as `/api/tags`. On an Ollama box a call is translated
/// and its answer written back in OpenAI's shape; on an OpenAI-compatible engine both go as they are. `/v1/messages`
/// and `/v1/responses` go to any box as they came.
struct OpenAIRoutes: Sendable {
    typealias Context = ConnectionContext

    let generation: QueuedGeneration
    let fleet: Fleet
    let maxBodyBytes: Int

    func register(on router: Router<Context>) {
        router.post("/v1/chat/completions") { request, context in try await self.generate(request, context, .chat) }
        router.post("/v1/completions") { request, context in try await self.generate(request, context, .generate) }
        router.post("/v1/embeddings") { request, context in try await self.embed(request, context) }
        router.post("/v1/messages") { request, context in try await self.relay(request, context, .messages) }
        router.post("/v1/responses") { request, context in try await self.relay(request, context, .responses) }
        router.get("/v1/models") { _, _ in try await self.models() }
        router.get("/v1/models/**") { _, context in try await self.model(context.parameters.getCatchAll().joined(separator: "/")) }
    }

    /// Every route and the methods it answers, so other methods get 405 rather than 404.
    static var routes: [String: [HTTPRequest.Method]] {
        [
            "/v1/chat/completions": [.post], "/v1/completions": [.post], "/v1/embeddings": [.post], "/v1/models": [.get],
            "/v1/messages": [.post], "/v1/responses": [.post],
        ]
    }

    private func generate(_ request: Request, _ context: Context, _ kind: JobKind) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let object = try Self.object(body)
        let model = try Self.model(in: object)
        let stream = object["stream"] as? Bool ?? false
        // Parsed once: the route, the translation and the answer's shape all read this object.
        let (job, providerKind) = try await generation.service.openAIJob(kind: kind, model: model, stream: stream, request: Data(body.readableBytesView), caller: context.caller) {
            kind == .chat ? try OpenAICallAsNative.chat(object, model: $0) : try OpenAICallAsNative.completion(object, model: $0)
        }
        switch providerKind {
        case .ollama:
            let includeUsage = (object["stream_options"] as? [String: Any])?["include_usage"] as? Bool ?? false
            let converter = NativeAnswerAsOpenAI(shape: kind == .chat ? .chat : .completion, model: model, includeUsage: includeUsage)
            return try await generation.respond(to: job, context: context, answer: OpenAIAnswerFromNative(converter: converter))
        case .openai:
            return try await generation.respond(to: job, context: context, answer: RelayedAnswer(surface: .openAI))
        }
    }

    /// `/v1/messages` (Anthropic's API) and `/v1/responses`: queued like every generation, sent to the box as they
    /// came, and its answer relayed byte for byte. A box that does not serve the path answers for itself.
    private func relay(_ request: Request, _ context: Context, _ kind: JobKind) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let object = try Self.object(body)
        let model = try Self.model(in: object)
        let job = try await generation.service.relayedJob(
            kind: kind, model: model, stream: object["stream"] as? Bool ?? false, request: Data(body.readableBytesView), caller: context.caller
        )
        return try await generation.respond(to: job, context: context, answer: RelayedAnswer(surface: kind == .messages ? .anthropic : .openAI))
    }

    /// `/v1/embeddings` through the provider's embeddings lane: as `/api/embed` on an Ollama box, its answer made into
    /// OpenAI's list; as it is on an engine.
    private func embed(_ request: Request, _ context: Context) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let object = try Self.object(body)
        let model = try Self.model(in: object)
        let nativeBody = try OpenAICallAsNative.embeddings(object, model: model)
        let route = try await fleet.route(model, requireKnown: false)
        let lane = route.provider.embeddings
        if route.provider.kind == .openai {
            return try await EmbeddingsRoute.send(
                "/v1/embeddings", model: route.model, body: route.body(body), lane: lane, service: generation.service, caller: context.caller
            )
        }
        let boxBody = route.bound ? ByteBuffer(bytes: ModelField.replacing(in: nativeBody, with: route.model)) : ByteBuffer(bytes: nativeBody)
        // The input is held to what `/api/embed` takes, with the native route's 400 for anything else.
        _ = try NativeRequest.parse(.embed, body: boxBody)
        let answer = try await EmbeddingsRoute.call("/api/embed", model: route.model, body: boxBody, lane: lane, service: generation.service, caller: context.caller)
        guard (200..<300).contains(answer.status) else {
            throw APIError(.init(code: answer.status), ResponseAssembler.errorMessage(in: answer.body) ?? "the box answered HTTP \(answer.status)")
        }
        guard let list = NativeAnswerAsOpenAI.embeddings(Data(answer.body.readableBytesView), model: model, base64: OpenAICallAsNative.wantsBase64(object)) else {
            throw APIError(.badGateway, "the box's embeddings answer could not be read")
        }
        return Self.json(ByteBuffer(bytes: list))
    }

    private func models() async throws -> Response {
        let data = try await ModelCatalog(fleet: fleet).openAIModels()
        return Self.json(try Self.encoded(["object": "list", "data": data]))
    }

    private func model(_ id: String) async throws -> Response {
        guard let model = try await ModelCatalog(fleet: fleet).openAIModels().first(where: { $0["id"] as? String == id }) else {
            throw APIError(.notFound, "model '\(id)' not found")
        }
        return Self.json(try Self.encoded(model))
    }

    private static func object(_ body: ByteBuffer) throws -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] else {
            throw APIError(.badRequest, "invalid request body: expected a JSON object")
        }
        return object
    }

    private static func model(in object: [String: Any]) throws -> String {
        guard let model = object["model"] as? String, !model.isEmpty else { throw APIError(.badRequest, "model is required") }
        return model
    }

    private static func encoded(_ object: [String: Any]) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    private static func json(_ body: ByteBuffer) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }
}
