import ForemanDomain
import ForemanEngine
import Hummingbird
import NIOCore

/// Native embeddings calls through the fast lane (ADR 0008): never queued behind generations.
enum EmbeddingsRoute {
    /// The largest embeddings answer foreman relays (1,000 inputs of 4,096 dimensions is about 50 MB).
    static let maxResponseBytes = 256 * 1024 * 1024

    /// Sends the call on `lane` and relays the answer, its usage added to `caller`'s.
    static func send(_ path: String, model: String, body: ByteBuffer, lane: EmbeddingLane, service: JobService, caller: APIKey) async throws -> Response {
        let answer = try await call(path, model: model, body: body, lane: lane, service: service, caller: caller)
        return Response(
            status: .init(code: answer.status),
            headers: [.contentType: answer.contentType ?? "application/json; charset=utf-8"],
            body: .init(byteBuffer: answer.body)
        )
    }

    /// Sends the call on `lane`; a successful answer's usage, as the box reported it, is added to `caller`'s (ADR 0022).
    static func call(
        _ path: String, model: String, body: ByteBuffer, lane: EmbeddingLane, service: JobService, caller: APIKey
    ) async throws -> (status: Int, contentType: String?, body: ByteBuffer) {
        let sent = ContinuousClock.now
        let answer = try await lane.send(path: path, model: model, body: body, maxResponseBytes: maxResponseBytes)
        if (200..<300).contains(answer.status) {
            let usage = ReportedUsage.ofEmbeddings(answer.body, runSeconds: (ContinuousClock.now - sent).seconds)
            await service.recordEmbeddingUsage(usage, model: model, caller: caller)
        }
        return answer
    }
}
