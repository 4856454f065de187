import ForemanDomain
import ForemanEngine
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// OpenAI's Batch API (ADR 0020): create a batch over an uploaded file, read it, list them, cancel one. The
/// ``BatchRunner`` does the work; these routes check what callers send and show where each batch stands.
struct BatchesRoutes<Context: KeyedContext>: Sendable {
    let batches: BatchService
    let maxBodyBytes: Int
    let webhooks: WebhookAddressPolicy

    static var maxPageSize: Int { 100 }

    func register(on router: Router<Context>) {
        router.post("/v1/batches") { request, context in try await self.create(request, context.caller) }
        router.get("/v1/batches") { request, context in try await self.list(request, context.caller) }
        router.get("/v1/batches/:id") { _, context in try await self.show(context.parameters.require("id"), context.caller) }
        router.post("/v1/batches/:id/cancel") { _, context in try await self.cancel(context.parameters.require("id"), context.caller) }
    }

    static var routes: [String: [HTTPRequest.Method]] {
        ["/v1/batches": [.get, .post], "/v1/batches/:id": [.get], "/v1/batches/:id/cancel": [.post]]
    }

    private func create(_ request: Request, _ caller: APIKey) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let bytes = [UInt8](body.readableBytesView)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw APIError(.badRequest, "invalid request body: expected a JSON object")
        }
        guard let fileID = object["input_file_id"] as? String, !fileID.isEmpty else { throw Self.missing("input_file_id") }
        guard let endpoint = object["endpoint"] as? String else { throw Self.missing("endpoint") }
        guard Batch.endpoints[endpoint] != nil else {
            throw APIError(.badRequest, "Invalid value for 'endpoint': '\(endpoint)'. Expected one of /v1/chat/completions, /v1/completions, /v1/embeddings.")
        }
        guard let window = object["completion_window"] as? String else { throw Self.missing("completion_window") }
        guard window == Batch.completionWindow else { throw APIError(.badRequest, "Invalid value for 'completion_window': '\(window)'. Expected '24h'.") }
        let metadata = try Self.metadata(object["metadata"], bytes: bytes)
        let webhookURL = try webhookURL(object["webhook_url"])
        guard let file = try await batches.file(id: fileID), caller.reaches(file.owner) else { throw APIError(.notFound, "No such File object: \(fileID)") }
        guard file.purpose == .batch else { throw APIError(.badRequest, "The input file \(fileID) was not uploaded with purpose 'batch'.") }
        var batch = Batch(endpoint: endpoint, inputFileID: fileID, metadata: metadata, webhookURL: webhookURL)
        batch.owner = caller.ownerID
        try await batches.submit(batch)
        return JSONLine.response(BatchDocument.render(batch), status: .ok)
    }

    private func list(_ request: Request, _ caller: APIKey) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try OpenAIList.limit(query.get("limit"), default: 20, maximum: Self.maxPageSize)
        let found = try await batches.batches(after: query.get("after"), limit: limit + 1, owner: caller.listedOwner)
        let page = found.prefix(limit)
        return JSONLine.response(OpenAIList.render(page.map(BatchDocument.render), ids: page.map(\.id), hasMore: found.count > limit), status: .ok)
    }

    private func show(_ id: String, _ caller: APIKey) async throws -> Response {
        guard let batch = try await batches.batch(id: id), caller.reaches(batch.owner) else { throw Self.notFound(id) }
        return JSONLine.response(BatchDocument.render(batch), status: .ok)
    }

    private func cancel(_ id: String, _ caller: APIKey) async throws -> Response {
        guard let batch = try await batches.batch(id: id), caller.reaches(batch.owner) else { throw Self.notFound(id) }
        switch try await batches.cancel(batch.id) {
        case .notFound:
            throw Self.notFound(id)
        case .ended(let batch):
            throw APIError(.conflict, "Cannot cancel a batch with status '\(batch.status.rawValue)'.")
        case .cancelling(let batch):
            return JSONLine.response(BatchDocument.render(batch), status: .ok)
        }
    }

    /// `metadata`: at most 16 pairs of strings, keys up to 64 characters and values up to 512, as OpenAI's; kept as
    /// the caller wrote it.
    private static func metadata(_ value: Any?, bytes: [UInt8]) throws -> String? {
        guard let value, !(value is NSNull) else { return nil }
        guard let pairs = value as? [String: Any], pairs.count <= 16,
            pairs.allSatisfy({ key, value in key.count <= 64 && (value as? String).map { $0.count <= 512 } == true })
        else {
            throw APIError(.badRequest, "Invalid 'metadata': expected an object of at most 16 string values (keys up to 64 characters, values up to 512).")
        }
        guard let range = RawJSONFields.ranges(["metadata"], in: bytes)["metadata"] else { return nil }
        return String(decoding: bytes[range], as: UTF8.self)
    }

    /// foreman's `webhook_url` extension (ADR 0020), held to the same rules as a job's `state_webhook_url`.
    private func webhookURL(_ value: Any?) throws -> String? {
        guard let value, !(value is NSNull) else { return nil }
        guard let text = value as? String, text.utf8.count <= 2048 else {
            throw APIError(.badRequest, "Invalid 'webhook_url': expected an http:// or https:// URL.")
        }
        switch webhooks.problem(url: text) {
        case .notHTTP: throw APIError(.badRequest, "Invalid 'webhook_url': expected an http:// or https:// URL.")
        case .refused(let refusal): throw APIError(.badRequest, "Invalid 'webhook_url': \(refusal) (FOREMAN_WEBHOOK_ALLOW_LINK_LOCAL=1 allows it)")
        case nil: return text
        }
    }

    private static func missing(_ field: String) -> APIError {
        APIError(.badRequest, "Missing required parameter: '\(field)'.")
    }

    private static func notFound(_ id: String) -> APIError {
        APIError(.notFound, "No such Batch object: \(id)")
    }
}
