import ForemanDomain
import NIOCore

/// Anthropic's error object, as Ollama's `/v1/messages` writes it: `{"type":"error","error":{"type","message"},
/// "request_id"}`, the inner type chosen by status.
enum AnthropicError {
    static func body(status: Int, message: String) -> ByteBuffer {
        ByteBuffer(string: json(status: status, message: message))
    }

    /// An error in the middle of a stream: Anthropic's `error` event.
    static func event(_ message: String) -> ByteBuffer {
        ByteBuffer(string: "event: error\ndata: " + json(status: 500, message: message) + "\n\n")
    }

    private static func json(status: Int, message: String) -> String {
        let type = switch status {
        case 400: "invalid_request_error"
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 429: "rate_limit_error"
        case 503, 529: "overloaded_error"
        default: "api_error"
        }
        var error = JSONObjectWriter()
        error.string("type", type)
        error.string("message", message)
        var writer = JSONObjectWriter()
        writer.string("type", "error")
        writer.object("error", error)
        writer.string("request_id", "req_" + JobID.make().dropFirst(4).lowercased())
        return writer.finished()
    }
}
