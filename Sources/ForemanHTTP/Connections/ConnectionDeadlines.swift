import NIOCore
import NIOHTTP1

/// How long a connection may hold a place in foreman without making progress, and when HTTP/1 says to close it.
///
/// A connection is in one of three phases. **Reading a head**: from the moment it is accepted, and from the first
/// byte of each later request, its request head must be complete within the header timeout, so a client that sends
/// part of a header (or nothing) cannot hold a descriptor for ever. **Busy**: a request is being answered; a
/// generation may stream for minutes, so no deadline applies. **Idle**: between two requests of a keep-alive
/// connection, for at most the idle timeout.
///
/// It also closes what HTTP/1 says to close, which Hummingbird's loop does not: an HTTP/1.0 request without
/// `keep-alive` (its client reads until the connection closes), and any answer carrying `Connection: close` (a
/// malformed request's 400, after which the stream cannot be trusted).
///
/// Two handlers share one instance, on the connection's event loop: ``RawBytes`` first in the pipeline (it sees the
/// first byte of a head), ``Messages`` after the HTTP/1 decoder (it sees heads and the end of each answer). A request
/// whose head comes whole in one read moves no timer but the idle one (ADR 0030).
final class ConnectionDeadlines {
    private enum Phase {
        case readingHead
        case busy
        case idle
    }

    /// A request read and not yet answered: what its answer must do about the connection.
    private struct Unanswered {
        /// Whether the connection may stay open after the answer.
        var keepAlive: Bool
        var version: HTTPVersion
    }

    private let headerTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var phase = Phase.readingHead
    private var timer: Scheduled<Void>?
    /// The requests read and not yet answered, oldest first: a pipelining client sends the next before the answer
    /// to the last, and answers go out in the order the requests came.
    private var unanswered: [Unanswered] = []

    init(headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
    }

    /// The handlers to install: `raw` first in the pipeline, `messages` right after the HTTP/1 request decoder.
    static func handlers(headerTimeout: TimeAmount, idleTimeout: TimeAmount) -> (raw: RawBytes, messages: Messages) {
        let deadlines = ConnectionDeadlines(headerTimeout: headerTimeout, idleTimeout: idleTimeout)
        return (RawBytes(deadlines), Messages(deadlines))
    }

    private func arm(_ timeout: TimeAmount, _ channel: any Channel) {
        timer?.cancel()
        timer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    /// Sees the raw bytes: the first one after an idle spell starts the header timeout.
    final class RawBytes: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        private let deadlines: ConnectionDeadlines

        fileprivate init(_ deadlines: ConnectionDeadlines) {
            self.deadlines = deadlines
        }

        func handlerAdded(context: ChannelHandlerContext) {
            if context.channel.isActive { deadlines.arm(deadlines.headerTimeout, context.channel) }
        }

        func channelActive(context: ChannelHandlerContext) {
            deadlines.arm(deadlines.headerTimeout, context.channel)
            context.fireChannelActive()
        }

        /// The header timeout starts with the read that ends an idle spell, and is armed only if that read did not
        /// bring a whole head: nearly every head comes in one read, and `Messages` would disarm the timer at once.
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .idle = deadlines.phase else { return context.fireChannelRead(data) }
            deadlines.phase = .readingHead
            context.fireChannelRead(data)
            if case .readingHead = deadlines.phase, context.channel.isActive {
                deadlines.arm(deadlines.headerTimeout, context.channel)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            deadlines.disarm()
            context.fireChannelInactive()
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            deadlines.disarm()
        }
    }

    /// Sees request heads and answers: a head makes the connection busy; the end of an answer makes it idle, or
    /// closes it when HTTP/1 says so.
    final class Messages: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias InboundOut = HTTPServerRequestPart
        typealias OutboundIn = HTTPServerResponsePart
        typealias OutboundOut = HTTPServerResponsePart
        private let deadlines: ConnectionDeadlines

        fileprivate init(_ deadlines: ConnectionDeadlines) {
            self.deadlines = deadlines
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = unwrapInboundIn(data) {
                deadlines.phase = .busy
                deadlines.disarm()
                deadlines.unanswered.append(Unanswered(keepAlive: head.isKeepAlive, version: head.version))
            }
            context.fireChannelRead(data)
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            switch unwrapOutboundIn(data) {
            case .head(var head):
                // An answer with no request read (a malformed one's 400) closes the connection by its own header.
                var request = deadlines.unanswered.first ?? Unanswered(keepAlive: true, version: .http1_1)
                if head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "close" }) {
                    request.keepAlive = false
                    if !deadlines.unanswered.isEmpty { deadlines.unanswered[0].keepAlive = false }
                }
                guard !request.keepAlive else { return context.write(data, promise: promise) }
                if deadlines.unanswered.isEmpty { deadlines.unanswered.append(request) }
                head.headers.replaceOrAdd(name: "connection", value: "close")
                // An HTTP/1.0 client reads a body until the connection closes; it does not know chunked encoding.
                if request.version.major == 1, request.version.minor == 0 { head.version = .http1_0 }
                context.write(wrapOutboundOut(.head(head)), promise: promise)
            case .body:
                context.write(data, promise: promise)
            case .end:
                let written = promise ?? context.eventLoop.makePromise()
                context.write(data, promise: written)
                guard deadlines.phase == .busy, !deadlines.unanswered.isEmpty else { return }
                let answered = deadlines.unanswered.removeFirst()
                if !answered.keepAlive {
                    let channel = context.channel
                    written.futureResult.whenComplete { _ in channel.close(promise: nil) }
                } else if deadlines.unanswered.isEmpty {
                    deadlines.phase = .idle
                    deadlines.arm(deadlines.idleTimeout, context.channel)
                }
            }
        }
    }
}
