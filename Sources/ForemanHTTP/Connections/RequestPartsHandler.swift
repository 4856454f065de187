import NIOCore
import NIOHTTPTypes

/// Takes a connection's request parts out of its pipeline and hands them to its task through ``RequestParts``, in
/// place of NIOAsyncChannel's inbound sequence (ADR 0032).
///
/// It stands after Hummingbird's connection state handler, which must see every request, and before NIOAsyncChannel's
/// handler, which foreman keeps for writing answers: the parts stop here. It holds the connection's reads while its
/// reader is behind, and ends the parts when the caller closes or stops sending, or when reading fails.
final class RequestPartsHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let parts: RequestParts

    init(loop: any EventLoop) {
        parts = RequestParts(loop: loop)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        parts.attach(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        parts.finish(nil)
        parts.attach(nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        parts.append(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        parts.finish(nil)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { parts.finish(nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        parts.finish(error)
        context.fireErrorCaught(error)
    }

    func read(context: ChannelHandlerContext) {
        if parts.admitsRead() { context.read() }
    }
}
