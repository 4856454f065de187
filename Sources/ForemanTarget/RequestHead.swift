import NIOCore

/// A request head to the target, as the bytes that go on the wire.
///
/// Written here rather than by NIO's `HTTPRequestEncoder`, which builds an `HTTPHeaders`, looks through it for the
/// framing headers and writes it out field by field: the largest single step of a native call's way to the box, for
/// a head whose fields are the target's constants and the body's length (ADR 0035).
struct RequestHead: Sendable {
    /// Whether the request is a `HEAD`, whose response has no body whatever its framing says.
    let isHEAD: Bool
    let bytes: ByteBuffer

    /// The head of `request` to `basePath`, carrying `constantFields` (each `name: value\r\n`).
    init(_ request: TargetRequest, basePath: String, constantFields: [UInt8]) {
        isHEAD = request.method == .HEAD
        var bytes = ByteBufferAllocator().buffer(capacity: 64 + basePath.utf8.count + request.path.utf8.count + constantFields.count)
        bytes.writeString(request.method.rawValue)
        bytes.writeInteger(UInt8(ascii: " "))
        bytes.writeString(basePath)
        bytes.writeString(request.path)
        bytes.writeStaticString(" HTTP/1.1\r\n")
        bytes.writeBytes(constantFields)
        // Framed by its length whenever there is a body, and a POST without one says it has none, as NIO's encoder
        // framed them; the other methods send no body and say nothing.
        if let body = request.body {
            bytes.writeStaticString("Content-Type: application/json\r\nContent-Length: ")
            bytes.writeString(String(body.readableBytes))
            bytes.writeStaticString("\r\n")
        } else if request.method == .POST {
            bytes.writeStaticString("Content-Length: 0\r\n")
        }
        bytes.writeStaticString("\r\n")
        self.bytes = bytes
    }

    /// `fields` as a head carries them: `name: value\r\n` each, in order.
    static func fields(_ fields: [(name: String, value: String)]) -> [UInt8] {
        fields.reduce(into: []) { bytes, field in bytes += Array("\(field.name): \(field.value)\r\n".utf8) }
    }
}
