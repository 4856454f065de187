import ForemanDomain
import ForemanEngine
import ForemanStore
import Foundation
import HTTPTypes
import Hummingbird
import MultipartKit
import NIOCore

/// OpenAI's Files API as a batch needs it (ADR 0020): upload a JSONL file, list, read, download and delete files.
/// An upload is parsed as it arrives and stored a chunk at a time, so no file is held whole in memory.
struct FilesRoutes<Context: KeyedContext>: Sendable {
    let batches: BatchService
    /// `FOREMAN_MAX_FILE_BYTES`.
    let maxFileBytes: Int

    static var maxPageSize: Int { 10_000 }

    func register(on router: Router<Context>) {
        router.post("/v1/files") { request, context in try await self.upload(request, context.caller) }
        router.get("/v1/files") { request, context in try await self.list(request, context.caller) }
        router.get("/v1/files/:id") { _, context in try await self.show(context.parameters.require("id"), context.caller) }
        router.delete("/v1/files/:id") { _, context in try await self.delete(context.parameters.require("id"), context.caller) }
        router.get("/v1/files/:id/content") { _, context in try await self.content(context.parameters.require("id"), context.caller) }
    }

    static var routes: [String: [HTTPRequest.Method]] {
        ["/v1/files": [.get, .post], "/v1/files/:id": [.get, .delete], "/v1/files/:id/content": [.get]]
    }

    private func upload(_ request: Request, _ caller: APIKey) async throws -> Response {
        guard let boundary = Self.boundary(request.headers[.contentType]) else {
            throw APIError(.badRequest, "the body must be multipart/form-data with a boundary, holding 'purpose' and 'file'")
        }
        let form = UploadForm(boundary: boundary)
        var writer: FileChunkWriter?
        var file: StoredFile?
        var received = 0
        do {
            for try await chunk in request.body {
                try form.feed(chunk)
                if let name = form.startedFile, file == nil {
                    // No control characters, and a bounded length: the name is shown in every listing.
                    let shown = String(name.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init).prefix(255))
                    var started = StoredFile(purpose: .batch, filename: shown.isEmpty ? "upload.jsonl" : shown)
                    started.owner = caller.ownerID
                    file = started
                    writer = try await batches.beginFile(started)
                }
                let bytes = form.takeFileBytes()
                if !bytes.isEmpty {
                    received += bytes.count
                    guard received <= maxFileBytes else {
                        throw APIError(.contentTooLarge, "the file is larger than FOREMAN_MAX_FILE_BYTES (\(maxFileBytes) bytes)")
                    }
                    try await writer?.write(bytes)
                }
            }
            try form.finish()
            guard file != nil, var written = writer else { throw APIError(.badRequest, "missing the 'file' part") }
            guard let purpose = form.purpose else { throw APIError(.badRequest, "missing the 'purpose' field") }
            guard purpose == StoredFile.Purpose.batch.rawValue else {
                throw APIError(.badRequest, "Invalid value for 'purpose': '\(purpose)'. foreman takes 'batch'.")
            }
            guard received > 0 else { throw APIError(.badRequest, "the file is empty") }
            guard let stored = try await batches.finishFile(&written) else { throw APIError(.internalServerError, "the file vanished while it was written") }
            return JSONLine.response(FileDocument.render(stored), status: .ok)
        } catch {
            // Nothing half-uploaded stays behind.
            if let file { _ = try? await batches.deleteFile(id: file.id) }
            throw error
        }
    }

    private func list(_ request: Request, _ caller: APIKey) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try OpenAIList.limit(query.get("limit"), default: Self.maxPageSize, maximum: Self.maxPageSize)
        let order = query.get("order") ?? "desc"
        guard order == "asc" || order == "desc" else { throw APIError(.badRequest, "Invalid value for 'order': '\(order)'. Expected 'asc' or 'desc'.") }
        var purpose: StoredFile.Purpose?
        if let text = query.get("purpose") {
            guard let known = StoredFile.Purpose(rawValue: text) else { throw APIError(.badRequest, "Invalid value for 'purpose': '\(text)'.") }
            purpose = known
        }
        let files = try await batches.files(purpose: purpose, after: query.get("after"), limit: limit + 1, ascending: order == "asc", owner: caller.listedOwner)
        return JSONLine.response(OpenAIList.render(files.prefix(limit).map(FileDocument.render), ids: files.prefix(limit).map(\.id), hasMore: files.count > limit), status: .ok)
    }

    private func show(_ id: String, _ caller: APIKey) async throws -> Response {
        let file = try await reachable(id, caller)
        return JSONLine.response(FileDocument.render(file), status: .ok)
    }

    private func delete(_ id: String, _ caller: APIKey) async throws -> Response {
        _ = try await reachable(id, caller)
        guard try await batches.deleteFile(id: id) else { throw Self.notFound(id) }
        var writer = JSONObjectWriter()
        writer.string("id", id)
        writer.string("object", "file")
        writer.bool("deleted", true)
        return JSONLine.response(writer.finished(), status: .ok)
    }

    /// The file's bytes, read a chunk at a time as the caller takes them.
    private func content(_ id: String, _ caller: APIKey) async throws -> Response {
        let file = try await reachable(id, caller)
        let batches = self.batches
        var headers: HTTPFields = [.contentType: "application/octet-stream", .contentLength: String(file.bytes)]
        headers[.contentDisposition] = "attachment; filename=\"\(Self.safeName(file.filename))\""
        return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: file.bytes) { writer in
            var seq = 0
            while let chunk = try await batches.chunk(fileID: id, seq: seq) {
                try await writer.write(ByteBuffer(bytes: chunk))
                seq += 1
            }
            try await writer.finish(nil)
        })
    }

    /// A file name fit for a `Content-Disposition` header: printable ASCII without quotes or backslashes.
    static func safeName(_ name: String) -> String {
        let kept = String(name.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "\\" }.map(Character.init).prefix(255))
        return kept.isEmpty ? "upload.jsonl" : kept
    }

    /// File `id`, when `caller` may reach it; another key's answers as an unknown one would (ADR 0022).
    private func reachable(_ id: String, _ caller: APIKey) async throws -> StoredFile {
        guard let file = try await batches.file(id: id), caller.reaches(file.owner) else { throw Self.notFound(id) }
        return file
    }

    static func notFound(_ id: String) -> APIError {
        APIError(.notFound, "No such File object: \(id)")
    }

    /// The boundary of a `multipart/form-data` content type.
    static func boundary(_ contentType: String?) -> String? {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data"),
            let boundary = UploadForm.parameter("boundary", in: contentType), !boundary.isEmpty, boundary.count <= 200
        else { return nil }
        return boundary
    }
}
