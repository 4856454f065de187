import NIOCore

/// One request to the target.
public struct TargetRequest: Sendable {
    public enum Method: String, Sendable { case GET, POST, HEAD, DELETE }

    public var method: Method
    /// The path, starting with `/`, for example `/api/chat`.
    public var path: String
    public var body: ByteBuffer?

    public init(method: Method, path: String, body: ByteBuffer? = nil) {
        self.method = method
        self.path = path
        self.body = body
    }
}
