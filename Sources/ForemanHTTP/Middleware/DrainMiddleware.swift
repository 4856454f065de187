import ForemanEngine
import HTTPTypes
import Hummingbird

/// Answers new work with 503 and `Retry-After` once a graceful shutdown has begun (ADR 0009); reads still work.
struct DrainMiddleware<Context: RequestContext>: RouterMiddleware {
    let gate: ShutdownGate

    static var takesWork: Set<String> { workPaths }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .post, Self.takesWork.contains(request.uri.path), await !gate.isOpen {
            throw APIError(.serviceUnavailable, "foreman is shutting down", headers: [.retryAfter: "5"])
        }
        return try await next(request, context)
    }
}

/// The paths that create work (a generic type cannot hold a stored static, and a computed set was built per request).
private let workPaths: Set<String> = [
    "/api/chat", "/api/generate", "/api/embed", "/api/embeddings", "/jobs",
    "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/messages", "/v1/responses", "/v1/files", "/v1/batches",
]
