import HTTPTypes
import Hummingbird

/// Answers 405 with a JSON error when a known path is called with a method it does not take.
enum MethodNotAllowed {
    static let candidates: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options]

    static func register<Context: RequestContext>(_ routes: [String: [HTTPRequest.Method]], on router: Router<Context>) {
        for (path, allowed) in routes {
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            for method in candidates where !allowed.contains(method) {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    throw APIError(.methodNotAllowed, "method \(request.method) not allowed on \(path)", headers: [.allow: allow])
                }
            }
        }
    }
}
