import ForemanEngine
import ForemanDomain
import ForemanStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The asynchronous surface: submit a job, follow it, cancel it, fetch its artifacts (ADR 0006).
struct JobsRoutes<Context: KeyedContext>: Sendable {
    let service: JobService
    let maxBodyBytes: Int
    let webhooks: WebhookAddressPolicy

    static var maxPageSize: Int { 200 }
    static var defaultPageSize: Int { 50 }


    func register(on router: Router<Context>) {
        router.post("/jobs") { request, context in try await self.submit(request, context.caller) }
        router.get("/jobs") { request, context in try await self.list(request, context.caller) }
        router.get("/jobs/:id") { _, context in try await self.show(context.parameters.require("id"), context.caller) }
        router.delete("/jobs/:id") { _, context in try await self.cancel(context.parameters.require("id"), context.caller) }
        router.get("/jobs/:id/artifacts") { _, context in try await self.artifacts(context.parameters.require("id"), context.caller) }
        router.get("/jobs/:id/artifacts/:name") { _, context in
            try await self.artifact(context.parameters.require("id"), context.parameters.require("name"), context.caller)
        }
    }

    static var routes: [String: [HTTPRequest.Method]] {
        ["/jobs": [.get, .post], "/jobs/:id": [.get, .delete], "/jobs/:id/artifacts": [.get], "/jobs/:id/artifacts/:name": [.get]]
    }

    private func submit(_ request: Request, _ caller: APIKey) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let key = request.headers[HTTPField.Name("Idempotency-Key")!]
        if let key, key.isEmpty || key.count > 255 {
            throw APIError(.badRequest, "Idempotency-Key must be 1 to 255 characters")
        }
        let submission = try JobSubmission.parse(body, webhooks: webhooks)
        switch try await service.submit(submission, body: Data(body.readableBytesView), idempotencyKey: key, caller: caller) {
        case .created(let created, let placement):
            // Rendered from what was just committed: a new job has no artifacts, and its place is known.
            let document = JobDocument.render(created, queuePosition: placement.position, estimatedStartAt: placement.estimatedStartAt, artifacts: [])
            var response = JSONLine.response(document, status: .accepted)
            response.headers[.location] = "/jobs/\(created.id)"
            return response
        case .existing(let original):
            return try await document(original.id, caller, status: .ok, location: true)
        }
    }

    private func show(_ id: String, _ caller: APIKey) async throws -> Response {
        try await document(id, caller, status: .ok)
    }

    private func cancel(_ id: String, _ caller: APIKey) async throws -> Response {
        try await requireReach(id, caller)
        switch try await service.cancelAndWait(id) {
        case .notFound: throw APIError.jobNotFound
        case .cancelled: return try await document(id, caller, status: .ok)
        case .alreadyFinished: return try await document(id, caller, status: .conflict)
        }
    }

    private func list(_ request: Request, _ caller: APIKey) async throws -> Response {
        let query = request.uri.queryParameters
        var filter = JobFilter(owner: caller.listedOwner)
        filter.state = try Self.enumValue(query.get("state"), "state", JobState.self)
        filter.kind = try Self.enumValue(query.get("kind"), "kind", JobKind.self)
        filter.origin = try Self.enumValue(query.get("origin"), "origin", JobOrigin.self)
        var limit = Self.defaultPageSize
        if let text = query.get("limit") {
            // Any positive whole number, however long, is capped; only other text is refused.
            guard !text.isEmpty, text.allSatisfy(\.isASCIIDigit), text.contains(where: { $0 != "0" }) else {
                throw APIError(.badRequest, "invalid limit '\(text)': expected a positive whole number")
            }
            limit = min(Int(text) ?? Self.maxPageSize, Self.maxPageSize)
        }
        var cursor: Int64?
        if let text = query.get("cursor"), !text.isEmpty {  // empty: the first page, as when absent
            guard let value = Int64(text), value > 0 else { throw APIError(.badRequest, "invalid cursor '\(text)'") }
            cursor = value
        }
        let page = try await service.list(filter, limit: limit, before: cursor)
        let next = page.next.map { JobDocument.quoted(String($0)) } ?? "null"
        let documents = page.jobs.map(JobDocument.render)
        return JSONLine.response(#"{"jobs":["# + documents.joined(separator: ",") + #"],"next_cursor":"# + next + "}", status: .ok)
    }

    private func artifacts(_ id: String, _ caller: APIKey) async throws -> Response {
        try await requireReach(id, caller)
        guard let artifacts = try await service.artifacts(jobID: id) else { throw APIError.jobNotFound }
        return JSONLine.response(#"{"artifacts":"# + JobDocument.renderArtifacts(jobID: id, artifacts) + "}", status: .ok)
    }

    private func artifact(_ id: String, _ name: String, _ caller: APIKey) async throws -> Response {
        try await requireReach(id, caller)
        guard let artifact = try await service.artifact(jobID: id, name: name) else {
            throw APIError(.notFound, "artifact not found")
        }
        return Response(
            status: .ok,
            headers: [.contentType: artifact.contentType],
            body: .init(byteBuffer: ByteBuffer(bytes: artifact.data))
        )
    }

    /// Another key's job answers as an unknown one would (ADR 0022): its id is not confirmed.
    private func requireReach(_ id: String, _ caller: APIKey) async throws {
        if caller.reaches(nil) { return }  // the admin scope reaches every job: no read needed
        guard let snapshot = try await service.snapshot(id: id), caller.reaches(snapshot.job.owner) else { throw APIError.jobNotFound }
    }

    private func document(_ id: String, _ caller: APIKey, status: HTTPResponse.Status, location: Bool = false) async throws -> Response {
        guard let snapshot = try await service.snapshot(id: id), caller.reaches(snapshot.job.owner) else { throw APIError.jobNotFound }
        var response = JSONLine.response(JobDocument.render(snapshot), status: status)
        if location { response.headers[.location] = "/jobs/\(id)" }
        return response
    }

    private static func enumValue<T: RawRepresentable & CaseIterable>(_ text: String?, _ name: String, _: T.Type) throws -> T? where T.RawValue == String {
        guard let text else { return nil }
        guard let value = T(rawValue: text) else {
            throw APIError(.badRequest, "invalid \(name) '\(text)': expected one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}

extension APIError {
    static let jobNotFound = APIError(.notFound, "job not found")
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
