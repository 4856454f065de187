import ForemanDomain
import HTTPTypes

/// The scope each route asks of a key (ADR 0022). A route that reveals nothing (the model lists, `/api/show`,
/// `/api/version`) asks only for a valid key.
enum RouteScope {
    static func required(_ method: HTTPRequest.Method, _ path: String) -> APIKey.Scope? {
        if path == "/metrics" || path.hasPrefix("/admin/") || path == "/admin" { return .admin }
        if path == "/jobs" || path.hasPrefix("/jobs/") || path == "/queue" || path.hasPrefix("/v1/files") || path.hasPrefix("/v1/batches") { return .jobs }
        if modelManagement.contains(path) || path.hasPrefix("/api/blobs/") { return .models }
        if method == .post, inference.contains(path) { return .inference }
        return nil
    }

    /// Whether the request asks for work (a generation, an embedding, a job, an upload or a batch): what a key's
    /// requests per minute count, and what a draining service refuses.
    static func createsWork(_ method: HTTPRequest.Method, _ path: String) -> Bool {
        method == .post && (inference.contains(path) || path == "/jobs" || path == "/v1/files" || path == "/v1/batches")
    }

    private static let inference: Set<String> = [
        "/api/chat", "/api/generate", "/api/embed", "/api/embeddings",
        "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/messages", "/v1/responses",
    ]

    /// Ollama's model management (ADR 0023), blobs (`/api/blobs/{digest}`) aside.
    private static let modelManagement: Set<String> = ["/api/pull", "/api/push", "/api/create", "/api/copy", "/api/delete"]
}
