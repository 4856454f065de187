import HTTPTypes
import Hummingbird

/// Answers 405 with a JSON error when a known path is called with a method it does not take.
///
/// The common methods get a route of their own; any other (`QUERY`, `PROPFIND`, …) reaches the router's 404, which
/// ``ErrorMiddleware`` turns into the same 405 through ``allowed(on:in:)``.
enum MethodNotAllowed {
    static let candidates: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options, .trace]

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

extension MethodNotAllowed {
    /// The methods `path` takes, `Allow`-style, when it matches one of `routes` (`:name` matches any one segment).
    static func allowed(on path: String, in routes: [String: [HTTPRequest.Method]]) -> String? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        for (pattern, methods) in routes {
            let parts = pattern.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == segments.count else { continue }
            if zip(parts, segments).allSatisfy({ part, segment in part.hasPrefix(":") ? !segment.isEmpty : part == segment }) {
                return methods.map(\.rawValue).joined(separator: ", ")
            }
        }
        return nil
    }
}
