import ForemanEngine
import HTTPTypes
import Hummingbird

/// Answers new work with 503 and `Retry-After` once a graceful shutdown has begun (ADR 0009); reads still work.
struct DrainMiddleware<Context: RequestContext>: RouterMiddleware {
    let gate: ShutdownGate

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if RouteScope.createsWork(request.method, request.uri.path), await !gate.isOpen {
            throw APIError(.serviceUnavailable, "foreman is shutting down", headers: [.retryAfter: "5"])
        }
        return try await next(request, context)
    }
}
