import ForemanEngine
import HTTPTypes
import Hummingbird

/// Requires `Authorization: Bearer <FOREMAN_TOKEN>` on everything but the monitor and heartbeat paths.
///
/// `/healthz`, `GET /` and `HEAD /` stay open: monitors and Ollama clients' heartbeats must work without
/// the token, and they reveal nothing a caller could use. Anthropic's API takes the token as `x-api-key`, which is
/// how Anthropic's clients send it unless told otherwise, so `/v1/messages` accepts either (ADR 0019).
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let verifier: BearerTokenVerifier
    /// `FOREMAN_METRICS_PUBLIC=1`: Prometheus may scrape `/metrics` without the token.
    var metricsPublic = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let open = path == "/healthz" || (path == "/" && (request.method == .get || request.method == .head))
            || (metricsPublic && path == "/metrics")
        guard open || verifier.verify(authorization: request.headers[.authorization]) || acceptsAPIKey(request) else {
            throw APIError.unauthorized
        }
        return try await next(request, context)
    }

    private func acceptsAPIKey(_ request: Request) -> Bool {
        guard APIError.Surface(path: request.uri.path) == .anthropic, let key = request.headers[.anthropicAPIKey] else { return false }
        return verifier.verify(token: key)
    }
}

extension HTTPField.Name {
    /// Anthropic's API key header.
    static let anthropicAPIKey = Self("x-api-key")!
}
