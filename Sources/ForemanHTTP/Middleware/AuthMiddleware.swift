import ForemanDomain
import Foundation
import ForemanEngine
import HTTPTypes
import Hummingbird

/// Finds the key a request is made with and checks it may use the route (ADR 0022), on everything but the monitor and
/// heartbeat paths.
///
/// `/healthz`, `/livez`, `/readyz`, `GET /` and `HEAD /` stay open: monitors, probes and Ollama clients' heartbeats
/// must work without a key, and they reveal nothing a caller could use. The key is the bearer token: `FOREMAN_TOKEN`, the bootstrap admin key, or
/// a key from the ``KeyRing``. Anthropic's API takes it as `x-api-key`, which is how Anthropic's clients send it
/// unless told otherwise, so `/v1/messages` accepts either (ADR 0019).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ConnectionContext

    let verifier: BearerTokenVerifier
    let keys: KeyRing
    let limiter: RequestLimiter
    /// Each key's tokens today.
    let ledger: KeyLedger
    /// `FOREMAN_METRICS_PUBLIC=1`: Prometheus may scrape `/metrics` without a key.
    var metricsPublic = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let open = path == "/healthz" || path == "/livez" || path == "/readyz" || (path == "/" && (request.method == .get || request.method == .head))
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
        // Most keys have no quota: their calls skip the route lookup.
        let caller = context.caller
        if caller.requestsPerMinute != nil || caller.tokensPerDay != nil, RouteScope.createsWork(request.method, path) {
            try await checkQuotas(of: caller, path: path)
        }
        return try await next(request, context)
    }

    /// Refuses a request for work over the key's requests per minute or tokens per day (ADR 0022), before anything
    /// is written.
    private func checkQuotas(of key: APIKey, path: String) async throws {
        if let perMinute = key.requestsPerMinute, let wait = await limiter.admit(key) {
            ledger.refused(key, limit: "rate")
            throw APIError(
                .tooManyRequests, "rate limit: the key '\(key.name)' may make \(perMinute) requests a minute",
                headers: [.retryAfter: String(Int(wait.seconds.rounded(.up)))]
            )
        }
        // An upload uses no tokens; the generations and batches it may feed are checked as they are asked for.
        if let perDay = key.tokensPerDay, path != "/v1/files" {
            let now = Date()
            let today = UTCDay(now)
            let used = ledger.tokens(owner: key.id, on: today)
            if used >= perDay {
                ledger.refused(key, limit: "tokens")
                throw APIError(
                    .tooManyRequests, "token quota: the key '\(key.name)' may use \(perDay) tokens a day and has used \(used) today (UTC)",
                    headers: [.retryAfter: String(max(1, Int(today.end.timeIntervalSince(now).rounded(.up))))]
                )
            }
        }
    }

    /// The presented secret: the bearer token, or on Anthropic's route its `x-api-key`.
    private static func secret(_ request: Request) -> Substring? {
        if let header = request.headers.value(of: .authorization), let token = BearerTokenVerifier.token(in: header) { return token }
        if APIError.Surface(path: request.uri.path) == .anthropic, let key = request.headers.value(of: .anthropicAPIKey) { return Substring(key) }
        return nil
    }
}

extension HTTPField.Name {
    /// Anthropic's API key header.
    static let anthropicAPIKey = Self("x-api-key")!
}
