import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Translates a connection's HTTP/1 parts to and from Swift HTTP Types, taking a request target in origin form
/// (`/api/chat?x=1`, what every client sends) as the path as it is.
///
/// It stands in for swift-nio-extras' `HTTP1ToHTTPServerCodec`, which parses every request's target with
/// Foundation's `URLComponents` to find an absolute-form one (`http://host/path`): work on every call's path that a
/// target in origin form never needs (ADR 0024). A target that starts with `/` has no scheme, so the library keeps
/// it unchanged too; any other target (absolute form, `*`) still goes through the library's conversion. The other
/// parts, and the whole outbound half, use the library's conversions as its codec does: that codec is `final` and
/// handles both directions, so it cannot be kept for the half that needs no change.
final class OriginFormServerCodec: ChannelDuplexHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            do {
                context.fireChannelRead(wrapInboundOut(.head(try Self.request(head))))
            } catch {
                context.fireErrorCaught(error)
            }
        case .body(let body):
            context.fireChannelRead(wrapInboundOut(.body(body)))
        case .end(let trailers):
            context.fireChannelRead(wrapInboundOut(.end(trailers.map { HTTPFields($0, splitCookie: false) })))
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response):
            context.write(wrapOutboundOut(.head(HTTPResponseHead(response))), promise: promise)
        case .body(let body):
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: promise)
        case .end(let trailers):
            context.write(wrapOutboundOut(.end(trailers.map(HTTPHeaders.init))), promise: promise)
        }
    }

    /// `head` as a Swift HTTP Types request, as the library's conversion makes it.
    static func request(_ head: HTTPRequestHead) throws -> HTTPRequest {
        guard head.uri.utf8.first == UInt8(ascii: "/") else { return try HTTPRequest(head, secure: false, splitCookie: false) }
        return HTTPRequest(
            method: try HTTPRequest.Method(head.method),
            scheme: "http",
            authority: head.headers["Host"].first,
            path: head.uri,
            headerFields: HTTPFields(head.headers, splitCookie: false)
        )
    }

    /// Puts a codec of this kind in place of the library's in `channel`'s pipeline.
    static func replaceLibraryCodec(in pipeline: ChannelPipeline.SynchronousOperations) throws {
        let library = try pipeline.handler(type: HTTP1ToHTTPServerCodec.self)
        try pipeline.addHandler(OriginFormServerCodec(), position: .after(library))
        pipeline.removeHandler(library, promise: nil)
    }
}
