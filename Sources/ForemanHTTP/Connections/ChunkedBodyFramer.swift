import NIOCore
import NIOHTTP1

/// Frames each part of a chunked answer's body as one buffer and writes it below NIO's HTTP/1 response encoder
/// (ADR 0028).
///
/// The encoder writes every chunk as three buffers (its length, the part, the closing `CRLF`), each through the
/// rest of the pipeline and into the socket's queue of pending writes, and spells the length with `String(radix:)`.
/// A long stream writes a part per read from the box, so that framing is a cost per read. This handler sits right
/// above the encoder and frames a part itself, in one buffer, when the answer it belongs to is one the encoder
/// frames in chunks. Any other part, and every head and end, goes through the encoder, which keeps its own framing
/// state: the end of a chunked answer is still the encoder's terminating chunk.
///
/// It must see each head as the encoder will, so nothing that changes heads may sit between the two.
final class ChunkedBodyFramer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The method of the oldest request read and not yet answered, and those of the requests read after it: only a
    /// pipelining client sends ahead, so the later ones take memory only for it.
    private var oldestMethod: HTTPMethod?
    private var laterMethods: [HTTPMethod] = []
    /// The encoder's context: a write through it goes to the handler below the encoder.
    private var encoder: ChannelHandlerContext?
    /// The encoder's context while the answer being written is framed here; `nil` while it is not.
    private var framing: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        encoder = nil
        framing = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            if oldestMethod == nil { oldestMethod = head.method } else { laterMethods.append(head.method) }
        }
        context.fireChannelRead(data)
    }

    /// The method of the request the next answer is for, no longer waiting for its answer.
    private func answeredMethod() -> HTTPMethod? {
        defer { oldestMethod = laterMethods.isEmpty ? nil : laterMethods.removeFirst() }
        return oldestMethod
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            // A non-final informational head (100 Continue) is followed by the answer's own head, as the encoder
            // counts it.
            let informational = (100..<200).contains(head.status.code) && head.status.code != 101
            if !informational {
                framing = Self.isFramedInChunks(head, answering: answeredMethod()) ? encoder : nil
            }
            context.write(data, promise: promise)
        case .body(.byteBuffer(let part)):
            guard let framing, Self.isCopied(part) else { return context.write(data, promise: promise) }
            Self.write(part, through: framing, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            framing = nil
            context.write(data, promise: promise)
        }
    }

    /// Writes `part` as the next chunk of the answer being written and flushes, for a writer on the connection's
    /// loop that bypasses the handlers above this one; `false`, writing nothing, when the part is not framed here
    /// (it must go through the encoder).
    func writeAndFlush(_ part: ByteBuffer) -> Bool {
        guard let framing, Self.isCopied(part) else { return false }
        Self.write(part, through: framing, promise: nil)
        framing.flush()
        return true
    }

    private static func write(_ part: ByteBuffer, through encoder: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        encoder.write(NIOAny(IOData.byteBuffer(chunk(part, allocator: encoder.channel.allocator))), promise: promise)
    }

    /// Whether NIO's encoder frames the body of the answer `head` in chunks, the answer to a request made with
    /// `method` (`nil`: no request was read, a malformed one's answer). It does when the answer may have a body, and
    /// says neither its length nor that the connection closes after it (HTTP/1.0), to a request that is neither
    /// `HEAD` nor `CONNECT` (whose answers carry no body). Where this says no, the encoder decides.
    static func isFramedInChunks(_ head: HTTPResponseHead, answering method: HTTPMethod?) -> Bool {
        guard let method, method != .HEAD, method != .CONNECT else { return false }
        guard head.version.major == 1, head.version.minor >= 1 else { return false }
        return head.status.mayHaveResponseBody && !head.headers.contains(name: "content-length")
    }

    /// Whether `part` is framed here, copied into its chunk: a large part is written as it lies, by the encoder, and
    /// an empty one by the encoder too, as it would end the body.
    private static func isCopied(_ part: ByteBuffer) -> Bool {
        part.readableBytes > 0 && part.readableBytes <= 65_536
    }

    /// `part` framed as one chunk: its length in hexadecimal, `CRLF`, the part, `CRLF`.
    static func chunk(_ part: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = part.readableBytes
        var chunk = allocator.buffer(capacity: length + 20)
        var digits = 1
        while length >> (4 * digits) != 0 { digits += 1 }
        for digit in (0..<digits).reversed() {
            let value = UInt8(truncatingIfNeeded: length >> (4 * digit)) & 0xF
            chunk.writeInteger(value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10)
        }
        chunk.writeStaticString("\r\n")
        chunk.writeImmutableBuffer(part)
        chunk.writeStaticString("\r\n")
        return chunk
    }
}
