import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The fake's model management, as Ollama answers it: `pull` and `push` with progress lines, `create` from a base or
/// from uploaded blobs, `copy`, `delete`, and blobs checked by their SHA-256 as they stream in.
///
/// Any name pulls, unless it contains `does-not-exist` (the registry has no such manifest).
struct FakeModelManagement: Sendable {
    let state: FakeOllamaState

    func register(on router: Router<FakeRequestContext>) {
        router.post("/api/pull") { request, _ in try await self.pull(request) }
        router.post("/api/push") { request, _ in try await self.push(request) }
        router.post("/api/create") { request, _ in try await self.create(request) }
        router.post("/api/copy") { request, _ in try await self.copy(request) }
        router.delete("/api/delete") { request, _ in try await self.delete(request) }
        router.head("/api/blobs/:digest") { _, context in try await self.hasBlob(context.parameters.require("digest")) }
        router.post("/api/blobs/:digest") { request, context in try await self.upload(request, digest: context.parameters.require("digest")) }
    }

    private func pull(_ request: Request) async throws -> Response {
        let (object, name) = try await Self.named(request)
        guard !name.contains("does-not-exist") else {
            return progress(object, [["status": "pulling manifest"]], failing: "pull model manifest: file does not exist")
        }
        var lines: [[String: Any]] = [["status": "pulling manifest"]]
        for (index, total) in [2_019_377_376, 1_429].enumerated() {
            let digest = "sha256:" + String(repeating: String(index), count: 64)
            for completed in [0, total / 2, total] {
                lines.append(["status": "pulling " + String(digest.dropFirst(7).prefix(12)), "digest": digest, "total": total, "completed": completed])
            }
        }
        lines += [["status": "verifying sha256 digest"], ["status": "writing manifest"], ["status": "success"]]
        let model = FakeModel(name: FakeOllamaState.normalized(name))
        return progress(object, lines) { await state.install(model) }
    }

    private func push(_ request: Request) async throws -> Response {
        let (object, name) = try await Self.named(request)
        guard let model = await state.model(named: name) else {
            return progress(object, [["status": "retrieving manifest"]], failing: "model \"\(name)\" not found")
        }
        let lines: [[String: Any]] = [
            ["status": "retrieving manifest"],
            ["status": "pushing " + String(model.digest.prefix(12)), "digest": "sha256:" + model.digest, "total": model.size, "completed": model.size],
            ["status": "pushing manifest"], ["status": "success"],
        ]
        return progress(object, lines)
    }

    private func create(_ request: Request) async throws -> Response {
        let (object, name) = try await Self.named(request)
        var base = FakeModel(name: FakeOllamaState.normalized(name))
        var lines: [[String: Any]] = []
        if let from = object["from"] as? String {
            guard let found = await state.model(named: from) else { return error(404, "model '\(from)' not found") }
            base = found
            base.name = FakeOllamaState.normalized(name)
            lines.append(["status": "using existing layer sha256:" + found.digest])
        }
        let blobs = await state.blobs
        for (file, digest) in (object["files"] as? [String: String] ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard blobs[digest] != nil else { return error(400, "file \(file) not found: blob \(digest) was never uploaded") }
            lines.append(["status": "using existing layer " + digest])
        }
        lines += [["status": "writing manifest"], ["status": "success"]]
        let made = base
        return progress(object, lines) { await state.install(made) }
    }

    private func copy(_ request: Request) async throws -> Response {
        let object = try await Self.object(request)
        guard let source = object["source"] as? String, let destination = object["destination"] as? String else {
            return error(400, "source and destination are required")
        }
        guard var model = await state.model(named: source) else { return error(404, "model \"\(source)\" not found") }
        model.name = FakeOllamaState.normalized(destination)
        await state.install(model)
        return Response(status: .ok)
    }

    private func delete(_ request: Request) async throws -> Response {
        let (_, name) = try await Self.named(request)
        guard await state.remove(name) else { return error(404, "model '\(name)' not found") }
        return Response(status: .ok)
    }

    private func hasBlob(_ digest: String) async throws -> Response {
        await state.blobs[digest] == nil ? Response(status: .notFound) : Response(status: .ok)
    }

    /// Hashes the upload as it arrives, a chunk at a time: the fake never holds a whole blob either.
    private func upload(_ request: Request, digest: String) async throws -> Response {
        if await state.blobs[digest] != nil { return Response(status: .ok) }
        var hasher = SHA256()
        var size = 0
        var largest = 0
        for try await chunk in request.body {
            chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            size += chunk.readableBytes
            largest = max(largest, chunk.readableBytes)
        }
        let got = "sha256:" + hasher.finalize().map { String(format: "%02x", $0) }.joined()
        guard got == digest else { return error(400, "digest mismatch, expected \"\(digest)\", got \"\(got)\"") }
        await state.storeBlob(digest, size: size, largestChunk: largest)
        return Response(status: .created)
    }

    /// Progress lines, streamed one by one (or, with `"stream": false`, the last alone); `failing` ends them with an
    /// error as Ollama does: a 200 stream's last line, or a whole 500. `done` runs once the work has succeeded.
    private func progress(
        _ object: [String: Any], _ lines: [[String: Any]], failing: String? = nil, done: @escaping @Sendable () async -> Void = {}
    ) -> Response {
        let streamed = object["stream"] as? Bool ?? true
        guard streamed else {
            if let failing { return error(500, failing) }
            let last = ndjson(lines.last ?? ["status": "success"])
            return Response(
                status: .ok,
                headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody { writer in
                    await done()
                    try await writer.write(last)
                    try await writer.finish(nil)
                }
            )
        }
        let buffers = lines.map(ndjson) + (failing.map { [ndjson(["error": $0])] } ?? [])
        return Response(
            status: .ok,
            headers: [.contentType: "application/x-ndjson"],
            body: ResponseBody { writer in
                for buffer in buffers {
                    try await writer.write(buffer)
                    try await Task.sleep(for: .milliseconds(2))
                }
                if failing == nil { await done() }
                try await writer.finish(nil)
            }
        )
    }

    private static func object(_ request: Request) async throws -> [String: Any] {
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        return (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }

    /// The body and its `model` (or `name`).
    private static func named(_ request: Request) async throws -> ([String: Any], String) {
        let object = try await object(request)
        return (object, (object["model"] as? String) ?? (object["name"] as? String) ?? "")
    }
}
