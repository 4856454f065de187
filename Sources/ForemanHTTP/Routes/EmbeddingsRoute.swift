import ForemanEngine
import Hummingbird
import NIOCore

/// Native embeddings calls through the fast lane (ADR 0008): never queued behind generations.
enum EmbeddingsRoute {
    /// The largest embeddings answer foreman relays (1,000 inputs of 4,096 dimensions is about 50 MB).
    static let maxResponseBytes = 256 * 1024 * 1024

    static func send(_ path: String, model: String, body: ByteBuffer, lane: EmbeddingLane) async throws -> Response {
        let answer = try await lane.send(path: path, model: model, body: body, maxResponseBytes: maxResponseBytes)
        return Response(
            status: .init(code: answer.status),
            headers: [.contentType: answer.contentType ?? "application/json; charset=utf-8"],
            body: .init(byteBuffer: answer.body)
        )
    }
}
