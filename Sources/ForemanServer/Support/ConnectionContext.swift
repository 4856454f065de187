import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// foreman's request context: Hummingbird's basic one, plus the connection the request came on, so a handler can
/// learn that its caller hung up without giving up keep-alive (ADR 0010).
public struct ConnectionContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request arrived on.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// Calls `action` (at most once, on the connection's event loop) when the caller closes its side of the connection
    /// or the connection drops; at once if that has already happened. It replaces the action of an earlier request on
    /// the same connection: HTTP/1 serves one request at a time.
    ///
    /// The action is handed to the event loop without waiting for it to be installed: a hang-up before that is
    /// still seen, since the watcher remembers it, and waiting cost a round trip to the loop on every call.
    func onHangUp(_ action: @escaping @Sendable () -> Void) {
        let channel = self.channel
        channel.eventLoop.execute {
            // Every server foreman starts has the watcher in its pipeline (`buildApplication`).
            let watcher = try? channel.pipeline.syncOperations.handler(type: HangUpWatcher.self)
            watcher?.onHangUp(action)
        }
    }
}

/// Watches one connection for its caller hanging up: the read side closing (`inputClosed`, as Hummingbird allows
/// half-closure) or the connection going inactive. NIO's HTTP pipeline handler passes `inputClosed` on at once
/// unless pipelined requests are waiting, so this sees it while a handler is still working on a request.
final class HangUpWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private var hungUp = false
    private var action: (@Sendable () -> Void)?

    /// Must be called on the connection's event loop.
    func onHangUp(_ action: @escaping @Sendable () -> Void) {
        if hungUp { action() } else { self.action = action }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { fire() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fire()
        context.fireChannelInactive()
    }

    private func fire() {
        guard !hungUp else { return }
        hungUp = true
        action?()
        action = nil
    }
}
