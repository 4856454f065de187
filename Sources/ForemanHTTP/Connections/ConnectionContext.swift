import ForemanDomain
import ForemanEngine
import ForemanTarget
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// foreman's request context: Hummingbird's basic one, plus the connection the request came on, so a handler can
/// learn that its caller hung up without giving up keep-alive (ADR 0010), and the key that made the request.
public struct ConnectionContext: ParkingRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The key that made the request (ADR 0022), set by ``AuthMiddleware``; the bootstrap key when foreman runs
    /// without a token.
    public var caller: APIKey = .bootstrap
    /// The connection the request arrived on.
    public let channel: any Channel
    /// Set by the connection's loop (``ForemanHTTP1Channel``), which finishes a parked response after the router has
    /// returned.
    public var parking: ResponseParking?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// Interrupts `watch` when the caller closes its side of the connection or the connection drops
    /// (``CancelReason/callerGone``, at once if that has already happened), or when `bound` has passed
    /// (``CancelReason/waitTimeout``). It replaces the watch of an earlier request on the same connection:
    /// HTTP/1 serves one request at a time.
    ///
    /// Both arrive on the job's own event stream, so a waiting handler needs no task of its own to watch for them
    /// (ADR 0011). Handlers run on the connection's loop (ADR 0012), so the watch is installed at once; from
    /// anywhere else it is handed to the loop without waiting for it to be installed: a hang-up before that is still
    /// seen, since the watcher remembers it.
    func interruptOnHangUp(_ watch: JobWatch, orAfter bound: Duration) {
        Self.interruptOnHangUp(watch, on: channel, orAfter: bound)
    }

    /// ``interruptOnHangUp(_:orAfter:)`` for a request on `channel`, for a waiting call that keeps the connection
    /// and not its whole context.
    static func interruptOnHangUp(_ watch: JobWatch, on channel: any Channel, orAfter bound: Duration) {
        let bound = bound.timeAmount
        let install: @Sendable () -> Void = {
            // Every server foreman starts has the watcher in its pipeline (`buildApplication`).
            let watcher = try? channel.pipeline.syncOperations.handler(type: HangUpWatcher.self)
            watcher?.watch(
                onHangUp: { watch.interrupt(.callerGone) },
                after: bound,
                onTimeout: { watch.interrupt(.waitTimeout) },
                on: channel.eventLoop
            )
        }
        if channel.eventLoop.inEventLoop { install() } else { channel.eventLoop.execute(install) }
    }
}

/// Watches one connection for its caller hanging up: the read side closing (`inputClosed`, as Hummingbird allows
/// half-closure) or the connection going inactive. NIO's HTTP pipeline handler passes `inputClosed` on at once
/// unless pipelined requests are waiting, so this sees it while a handler is still working on a request.
///
/// It also keeps the wait bound of the connection's current request: a timer that the next request's watch, or the
/// connection's end, cancels. The handler ignores a timer that fires once its job has started, and arms it again
/// while the target is working on the job (`QueuedGeneration`).
final class HangUpWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private var hungUp = false
    private var action: (@Sendable () -> Void)?
    private var timer: Scheduled<Void>?

    /// Must be called on the connection's event loop.
    func watch(
        onHangUp action: @escaping @Sendable () -> Void,
        after bound: TimeAmount,
        onTimeout: @escaping @Sendable () -> Void,
        on loop: any EventLoop
    ) {
        timer?.cancel()
        timer = nil
        if hungUp {
            action()
            return
        }
        self.action = action
        timer = loop.assumeIsolated().scheduleTask(in: bound) { onTimeout() }
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
        timer?.cancel()
        timer = nil
        action?()
        action = nil
    }
}
