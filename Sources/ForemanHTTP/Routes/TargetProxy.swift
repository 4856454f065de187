import ForemanEngine
import ForemanTarget
import HTTPTypes
import Hummingbird
import NIOCore

/// Forwards a request to the target as it is and streams the answer back, status and content type included.
///
/// Used for the reads that are neither generations nor embeddings (`/api/ps`, `/api/show`, `/api/version`):
/// they never wait in the queue.
struct TargetProxy: Sendable {
    let target: any OllamaTarget

    func forward(_ method: TargetRequest.Method, _ path: String, body: ByteBuffer? = nil) async throws -> Response {
        let response: TargetResponse
        do {
            response = try await target.send(TargetRequest(method: method, path: path, body: body))
        } catch let error as TargetError {
            throw APIError(.badGateway, error.description)
        }
        return Response(
            status: .init(code: response.status),
            headers: [.contentType: response.contentType ?? "application/json; charset=utf-8"],
            body: ResponseBody(asyncSequence: response.body)
        )
    }
}
