import HTTPTypes
import Hummingbird
import Logging

/// Turns every thrown error into an `{"error": "..."}` answer, so no caller ever sees an empty or HTML body.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Every route and its methods: a known path called with an unusual method answers 405, not 404.
    var routes: [String: [HTTPRequest.Method]] = [:]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var apiError = APIError.from(error)
            if let httpError = error as? HTTPError, httpError.status == .notFound, httpError.body == nil {
                if let allow = MethodNotAllowed.allowed(on: request.uri.path, in: routes) {
                    apiError = APIError(.methodNotAllowed, "method \(request.method) not allowed on \(request.uri.path)", headers: [.allow: allow])
                } else {
                    apiError.message = "no route for \(request.method) \(request.uri.path)"
                }
            }
            if apiError.status == .internalServerError || apiError.status == .badGateway {
                context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            }
            return try apiError.response(from: request, context: context)
        }
    }
}
