import ForemanDomain
import Foundation
import NIOCore
import NIOPosix

/// The target over plain HTTP/1.1: kept-alive connections on each event loop, each request written in one flush.
///
/// foreman talks to exactly one Ollama, usually on loopback or the LAN, and a generation's request is on the
/// critical path of every native call. A proxied `GET /api/version` took 0.48 to 0.61 ms through AsyncHTTPClient
/// and takes 0.34 to 0.42 ms through this client (ADR 0010). Each loop of the group keeps its own connections, and
/// a request goes out on the loop it is sent from (the caller's connection's loop, ADR 0012), so the request, the
/// response and the caller's own connection share one thread: nothing is handed between threads. A request sent
/// from anywhere else goes out on one fixed loop. `https://` targets keep ``LiveOllamaTarget``.
///
/// Cancelling the calling task (or dropping the body unread) closes the connection, which is how Ollama learns
/// that a generation is no longer wanted.
public final class HTTP1Target: OllamaTarget {
    /// One set of kept connections per loop of the group; the first serves requests sent from outside the group.
    private let pools: [LoopPool]
    private let host: String
    private let port: Int
    private let basePath: String
    /// The header fields every request carries, as written: the target's `Host`, who is asking, and the token.
    private let constantFields: [UInt8]
    private let connectTimeout: TimeAmount
    private let headTimeout: TimeAmount
    private let readTimeout: TimeAmount
    private let failures: TargetFailureObserver
    /// Connections kept open between requests on each loop (one serves a generation; the rest absorb bursts of reads).
    static let maxIdle = 4

    /// - Parameters:
    ///   - url: the target, `http://host[:port][/prefix]`.
    ///   - connectTimeout: how long a new connection may take.
    ///   - headTimeout: how long to wait for a response head (a model load happens before it).
    ///   - readTimeout: the longest pause allowed inside a response body.
    public init(
        url: URL,
        token: String?,
        connectTimeout: Duration,
        headTimeout: Duration,
        readTimeout: Duration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        failures: @escaping TargetFailureObserver = { _ in }
    ) throws {
        guard url.scheme?.lowercased() == "http", let host = url.host, !host.isEmpty else {
            throw TargetError.unreachable("HTTP1Target needs an http:// URL, got \(url.absoluteString)")
        }
        if let token, !Self.isFieldValue(token) {
            throw TargetError.unreachable("the target's token cannot be sent in a header: it has control characters")
        }
        self.pools = group.makeIterator().map(LoopPool.init)
        self.host = host
        self.port = url.port ?? 80
        let bracketed = host.contains(":") ? "[\(host)]" : host
        var fields = [
            (name: "Host", value: url.port.map { "\(bracketed):\($0)" } ?? bracketed), ("User-Agent", "foreman/\(ForemanVersion.current)"),
            ("Accept", "application/x-ndjson, application/json"),
        ]
        if let token { fields.append(("Authorization", "Bearer \(token)")) }
        self.constantFields = RequestHead.fields(fields)
        self.basePath = url.path.hasSuffix("/") ? String(url.path.dropLast()) : url.path
        self.connectTimeout = connectTimeout.timeAmount
        self.headTimeout = headTimeout.timeAmount
        self.readTimeout = readTimeout.timeAmount
        self.failures = failures
    }

    public func eventLoop(near current: (any EventLoop)?) -> (any EventLoop)? {
        pool(near: current).loop
    }

    /// The connections of `current` when it is one of the group's loops, else the first loop's.
    private func pool(near current: (any EventLoop)?) -> LoopPool {
        if let current, let pool = pools.first(where: { $0.loop === current }) { return pool }
        return pools[0]
    }

    public func send(_ request: TargetRequest) async throws -> TargetResponse {
        let head = RequestHead(request, basePath: basePath, constantFields: constantFields)
        let pool = pool(near: MultiThreadedEventLoopGroup.currentEventLoop)
        do {
            do {
                return try await exchange(head, body: request.body, reuse: true, pool: pool)
            } catch ExchangeError.staleConnection {
                // A kept connection the target had already closed: nothing reached it, so send once more on a new one.
                return try await exchange(head, body: request.body, reuse: false, pool: pool)
            }
        } catch {
            if Task.isCancelled || error is CancellationError { throw CancellationError() }
            let failure = error as? TargetError ?? .unreachable(String(describing: error))
            failures(failure)
            throw failure
        }
    }

    /// Closes the kept connections (for shutdown; requests in flight end with their connections).
    public func closeIdleConnections() async {
        for pool in pools {
            let closed = pool.loop.submit { [idle = pool.idle] in
                let channels = idle.value
                idle.value.removeAll()
                for channel in channels { channel.close(promise: nil) }
            }
            try? await closed.get()
        }
    }

    /// Whether `value` may be sent as a header field value as it is: no control characters but tab (RFC 9110).
    /// Requests are written without NIO's per-request header check, so the only value from outside, the token, is
    /// checked once here and by the configuration (`FOREMAN_OLLAMA_TOKEN`).
    public static func isFieldValue(_ value: String) -> Bool {
        value.unicodeScalars.allSatisfy { $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) }
    }

    private func exchange(_ head: RequestHead, body: ByteBuffer?, reuse: Bool, pool: LoopPool) async throws -> TargetResponse {
        let loop = pool.loop
        let inFlight = NIOLoopBoundBox.makeBoxSendingValue(InFlight.pending, as: InFlight.self, eventLoop: loop)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (answer: CheckedContinuation<TargetResponse, any Error>) in
                if loop.inEventLoop {
                    start(head, body: body, reuse: reuse, pool: pool, inFlight: inFlight, answer: answer)
                } else {
                    loop.execute { self.start(head, body: body, reuse: reuse, pool: pool, inFlight: inFlight, answer: answer) }
                }
            }
        } onCancel: {
            loop.execute {
                switch inFlight.value {
                case .pending: inFlight.value = .cancelled
                case .sent(let channel): channel.close(promise: nil)
                case .answered, .cancelled: break  // past the head, the body's reader owns the connection
                }
            }
        }
    }

    /// On `pool`'s loop: takes a kept connection (or opens one) and writes the request on it.
    private func start(
        _ head: RequestHead,
        body: ByteBuffer?,
        reuse: Bool,
        pool: LoopPool,
        inFlight: NIOLoopBoundBox<InFlight>,
        answer: CheckedContinuation<TargetResponse, any Error>
    ) {
        guard case .pending = inFlight.value else {
            answer.resume(throwing: CancellationError())
            return
        }
        while reuse, let channel = pool.idle.value.popLast() {
            if channel.isActive, begin(on: channel, reused: true, head, body: body, inFlight: inFlight, answer: answer) { return }
        }
        connect(pool).whenComplete { result in
            switch result {
            case .failure(let error):
                answer.resume(throwing: TargetError.unreachable(String(describing: error)))
            case .success(let channel):
                guard case .pending = inFlight.value, self.begin(on: channel, reused: false, head, body: body, inFlight: inFlight, answer: answer) else {
                    channel.close(promise: nil)
                    answer.resume(throwing: CancellationError())
                    return
                }
            }
        }
    }

    /// On the channel's loop: writes the request on `channel`; `false` when the channel has no exchange handler.
    private func begin(
        on channel: any Channel,
        reused: Bool,
        _ head: RequestHead,
        body: ByteBuffer?,
        inFlight: NIOLoopBoundBox<InFlight>,
        answer: CheckedContinuation<TargetResponse, any Error>
    ) -> Bool {
        guard let handler = try? channel.pipeline.syncOperations.handler(type: ExchangeHandler.self) else { return false }
        inFlight.value = .sent(channel)
        handler.send(head, body: body, reused: reused, headTimeout: headTimeout, inFlight: inFlight, answer: answer)
        return true
    }

    private func connect(_ pool: LoopPool) -> EventLoopFuture<any Channel> {
        let readTimeout = self.readTimeout
        let idle = pool.idle
        return ClientBootstrap(group: pool.loop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // No per-request header check: the headers are the constants above, the token checked in `init`,
                    // and the body's length (ADR 0012; NIO's check was 1.5% of a native call's CPU).
                    // The requests written as bytes (ADR 0035); the responses read by the exchange's own parser (ADR 0029).
                    try channel.pipeline.syncOperations.addHandler(
                        ExchangeHandler(readTimeout: readTimeout) { channel, reusable in
                            // On the loop: a finished exchange hands its connection back, or it is closed.
                            if reusable, idle.value.count < Self.maxIdle {
                                idle.value.append(channel)
                            } else {
                                idle.value.removeAll { $0 === channel }
                                if reusable { channel.close(promise: nil) }
                            }
                        }
                    )
                }
            }
            .connect(host: host, port: port)
    }
}

/// One event loop's kept connections.
private struct LoopPool: Sendable {
    let loop: any EventLoop
    /// Connections between requests, newest last. Touched only on `loop`.
    let idle: NIOLoopBoundBox<[any Channel]>

    init(_ loop: any EventLoop) {
        self.loop = loop
        self.idle = .makeBoxSendingValue([], as: [any Channel].self, eventLoop: loop)
    }
}

/// Where one exchange is, as its cancellation handler sees it.
private enum InFlight {
    case pending
    case sent(any Channel)
    /// The head arrived: cancelling now is the body's business (the connection may already serve another request).
    case answered
    case cancelled
}

/// An exchange failed in a way the client handles itself.
private enum ExchangeError: Error {
    /// A kept connection closed before any byte of the response: the target had closed it while it was idle.
    case staleConnection
}

/// One connection's side of the exchanges: writes a request, answers with the head, streams the body.
private final class ExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case waitingForHead(CheckedContinuation<TargetResponse, any Error>, reused: Bool, inFlight: NIOLoopBoundBox<InFlight>)
        case streaming(BodyChunks.Feed, keepAlive: Bool)
        case closed
    }

    private var state = State.idle
    private var parser = BoxResponseParser()
    private var context: ChannelHandlerContext?
    /// The exchange's one timer: due at the head's deadline, then at the read's. It is armed once per exchange, not
    /// once per read nor again at the head: when it fires while the body streams it looks at `lastRead`, and waits on
    /// if bytes came since. A timer per read cost about 3% of foreman's CPU while relaying a long stream, and a timer
    /// set and another cancelled at the head are on every first line's way (ADR 0035).
    private var timer: Scheduled<Void>?
    /// When ``timer`` is due.
    private var timerDeadline = NIODeadline.uptimeNanoseconds(0)
    /// How long the exchange under way may wait for its head.
    private var headTimeout = TimeAmount.zero
    /// When the body's last bytes came.
    private var lastRead = NIODeadline.uptimeNanoseconds(0)
    /// The body bytes of the read under way: handed on whole when it completes, so a box that sends faster than it
    /// is read is relayed a read at a time, as a bare proxy relays it, not one chunk of its encoding at a time.
    private var unread = ByteBuffer()
    private let readTimeout: TimeAmount
    /// Called on the loop when an exchange ends (reusable: the connection may serve the next one) and on close.
    private let ended: (any Channel, _ reusable: Bool) -> Void

    init(readTimeout: TimeAmount, ended: @escaping (any Channel, _ reusable: Bool) -> Void) {
        self.readTimeout = readTimeout
        self.ended = ended
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Writes the request in one flush and waits for the head.
    func send(
        _ head: RequestHead,
        body: ByteBuffer?,
        reused: Bool,
        headTimeout: TimeAmount,
        inFlight: NIOLoopBoundBox<InFlight>,
        answer: CheckedContinuation<TargetResponse, any Error>
    ) {
        guard let context, case .idle = state else {
            answer.resume(throwing: reused ? ExchangeError.staleConnection : TargetError.unreachable("connection closed"))
            return
        }
        let channel = context.channel
        state = .waitingForHead(answer, reused: reused, inFlight: inFlight)
        self.headTimeout = headTimeout
        arm(at: .now() + headTimeout, loop: context.eventLoop, channel: channel)
        parser.expectResponse(toHEAD: head.isHEAD)
        if let body {
            context.write(wrapOutboundOut(head.bytes), promise: nil)
            context.writeAndFlush(wrapOutboundOut(body), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(head.bytes), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The bytes of an exchange that was given up (timed out or cancelled): the connection is closing.
        if case .closed = state { return }
        // The parser is taken out while it reads: what its events set off can come back into this handler (a reader
        // that leaves closes the connection, and `channelInactive` runs within that close).
        var parser = self.parser
        self.parser = BoxResponseParser()
        defer { self.parser = parser }
        do {
            try parser.read(unwrapInboundIn(data)) { event in handle(event, context: context) }
        } catch {
            fail("the response is malformed: \(error)", context: context)
        }
    }

    private func handle(_ event: BoxResponseParser.Event, context: ChannelHandlerContext) {
        switch (event, state) {
        case (.head(let head), .waitingForHead(let answer, _, let inFlight)):
            inFlight.value = .answered
            let channel = context.channel
            // The reader went away before the end (cancelled, or dropped the body): stop the target's work.
            let (body, chunks) = BodyChunks.make(on: context.eventLoop) { channel.close(promise: nil) }
            state = .streaming(chunks, keepAlive: head.keepAlive)
            lastRead = .now()
            // A read timeout shorter than what is left of the head's is kept from now on.
            if timerDeadline > lastRead + readTimeout {
                arm(at: lastRead + readTimeout, loop: context.eventLoop, channel: channel)
            }
            answer.resume(returning: TargetResponse(
                status: head.status,
                contentType: head.contentType,
                retryAfter: TargetResponse.retryAfter(head.retryAfter),
                body: TargetBody(body)
            ))
        case (.body(let chunk), .streaming):
            if unread.readableBytes == 0 { unread = chunk } else { unread.writeImmutableBuffer(chunk) }
        case (.end, .streaming(let chunks, let keepAlive)):
            end(chunks, keepAlive: keepAlive, context: context)
        default:
            break  // parts of an exchange that was given up: the connection is closing
        }
    }

    private func end(_ chunks: BodyChunks.Feed, keepAlive: Bool, context: ChannelHandlerContext) {
        disarm()
        state = keepAlive ? .idle : .closed
        handOnUnread(chunks)
        chunks.finish()
        ended(context.channel, keepAlive)
    }

    /// Ends the exchange under way, for `reason`, and closes the connection: after bytes that are not a response
    /// foreman reads, nothing more on it can be trusted.
    private func fail(_ reason: String, context: ChannelHandlerContext) {
        disarm()
        let previous = state
        state = .closed
        switch previous {
        case .waitingForHead(let answer, _, _):
            answer.resume(throwing: TargetError.dropped(reason))
        case .streaming(let chunks, _):
            handOnUnread(chunks)
            chunks.finish(throwing: TargetError.interrupted(reason))
        case .idle, .closed:
            break
        }
        context.close(promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .streaming(let chunks, _) = state, unread.readableBytes > 0 {
            lastRead = .now()
            handOnUnread(chunks)
        }
        context.fireChannelReadComplete()
    }

    private func handOnUnread(_ chunks: BodyChunks.Feed) {
        guard unread.readableBytes > 0 else { return }
        chunks.yield(unread)
        unread = ByteBuffer()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        let previous = state
        state = .closed
        switch previous {
        case .waitingForHead(let answer, let reused, _):
            // On a fresh connection the request was written whole: the target took it and went away.
            answer.resume(throwing: reused ? ExchangeError.staleConnection : TargetError.dropped("connection closed after the request was sent"))
        case .streaming(let chunks, _) where parser.endsAtClose:
            handOnUnread(chunks)
            chunks.finish()  // a body read to the close is whole
        case .streaming(let chunks, _):
            handOnUnread(chunks)
            chunks.finish(throwing: TargetError.interrupted("connection closed"))
        case .idle, .closed:
            break
        }
        ended(context.channel, false)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Sets ``timer`` for `deadline`, in place of any set before. When it fires before the head, the exchange fails
    /// for want of one within the head's timeout; after, for want of bytes within the read's, unless some came since.
    private func arm(at deadline: NIODeadline, loop: any EventLoop, channel: any Channel) {
        timer?.cancel()
        timerDeadline = deadline
        let readTimeout = self.readTimeout
        timer = loop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            guard let self else { return }
            self.timer = nil
            switch self.state {
            case .waitingForHead(let answer, _, _):
                self.state = .closed
                answer.resume(throwing: TargetError.unreachable("no response head within \(self.headTimeout.prettyDescription)"))
                channel.close(promise: nil)
            case .streaming(let chunks, _):
                let due = self.lastRead + readTimeout
                if due > .now() {
                    self.arm(at: due, loop: loop, channel: channel)
                    return
                }
                self.state = .closed
                chunks.finish(throwing: TargetError.interrupted("no data for \(readTimeout.prettyDescription)"))
                channel.close(promise: nil)
            case .idle, .closed:
                break
            }
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

extension TimeAmount {
    fileprivate var prettyDescription: String {
        let seconds = Double(nanoseconds) / 1_000_000_000
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : String(format: "%.3fs", seconds)
    }
}
