import ForemanDomain
import ForemanEngine
import HTTPTypes
import Hummingbird

/// Finds the key a request is made with and checks it may use the route (ADR 0022), on everything but the monitor and
/// heartbeat paths.
///
/// `/healthz`, `GET /` and `HEAD /` stay open: monitors and Ollama clients' heartbeats must work without a key, and
/// they reveal nothing a caller could use. The key is the bearer token: `FOREMAN_TOKEN`, the bootstrap admin key, or
/// a key from the ``KeyRing``. Anthropic's API takes it as `x-api-key`, which is how Anthropic's clients send it
/// unless told otherwise, so `/v1/messages` accepts either (ADR 0019).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ConnectionContext

    let verifier: BearerTokenVerifier
    let keys: KeyRing
    let limiter: RequestLimiter
    /// `FOREMAN_METRICS_PUBLIC=1`: Prometheus may scrape `/metrics` without a key.
    var metricsPublic = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let open = path == "/healthz" || (path == "/" && (request.method == .get || request.method == .head))
            || (metricsPublic && path == "/metrics")
        if open { return try await next(request, context) }
        guard let secret = Self.secret(request) else { throw APIError.unauthorized }
        let hash = KeyRing.hash(secret)
        var context = context
        if verifier.verify(hash: hash) {
            context.caller = .bootstrap
        } else if let key = await keys.key(hash: hash) {
            context.caller = key
        } else {
            throw APIError.unauthorized
        }
        if let scope = RouteScope.required(request.method, path), !context.caller.scopes.contains(scope) {
            throw APIError(.forbidden, "the key '\(context.caller.name)' may not use \(path): it lacks the '\(scope.rawValue)' scope")
        }
        if let perMinute = context.caller.requestsPerMinute, RouteScope.createsWork(request.method, path),
            let wait = await limiter.admit(context.caller)
        {
            throw APIError(
                .tooManyRequests, "rate limit: the key '\(context.caller.name)' may make \(perMinute) requests a minute",
                headers: [.retryAfter: String(Int(wait.seconds.rounded(.up)))]
            )
        }
        return try await next(request, context)
    }

    /// The presented secret: the bearer token, or on Anthropic's route its `x-api-key`.
    private static func secret(_ request: Request) -> Substring? {
        if let header = request.headers[.authorization] {
            let scheme = "bearer "
            if header.count > scheme.count, header.prefix(scheme.count).lowercased() == scheme { return header.dropFirst(scheme.count) }
        }
        if APIError.Surface(path: request.uri.path) == .anthropic, let key = request.headers[.anthropicAPIKey] { return Substring(key) }
        return nil
    }
}

extension HTTPField.Name {
    /// Anthropic's API key header.
    static let anthropicAPIKey = Self("x-api-key")!
}
