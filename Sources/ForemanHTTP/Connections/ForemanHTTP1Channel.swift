import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// foreman's HTTP/1 connection: the pipeline Hummingbird's HTTP/1 server builds, and foreman's own loop over the
/// requests that arrive on it.
///
/// The loop is Hummingbird's, kept lean for what a connection holds while it waits (ADR 0024). A connection's task
/// keeps every slab its async frames ever took until it ends, so each frame between the connection and a waiting
/// call costs every connection that waits, and every kept-alive one. So each request is routed in a child task,
/// whose memory goes back when routing returns, and a response the route parked (``ResponseParking``) is waited
/// for here, a few frames from the top of the connection's task. And it writes a response whose length is not
/// known with its head held back for the first part of its body (``HeadDeferringWriter``): the head and the first
/// line of a stream go out in one write.
public struct ForemanHTTP1Channel: ServerChildChannel {
    public typealias Value = Connection

    /// A connection as its loop serves it: the async channel it answers through, and the parts it reads.
    public struct Connection: ServerChildChannelValue {
        let asyncChannel: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>
        let parts: RequestParts
        public var channel: any Channel { asyncChannel.channel }
    }

    /// Routes a request, in a child task of the connection's: its answer, or a placeholder for an answer it parked
    /// in the `ResponseParking` it is given. An error it throws closes the connection unanswered, but for a
    /// malformed request (`HTTPParserError`), which is answered 400.
    public typealias Responder = @Sendable (Request, any Channel, ResponseParking) async throws -> Response
    /// What every answer gets before it is written (the server's `Date` and `Server` headers).
    public typealias Stamp = @Sendable (Response) -> Response

    let responder: Responder
    let stamp: Stamp
    let configuration: HTTP1Channel.Configuration

    public init(responder: @escaping Responder, stamp: @escaping Stamp, configuration: HTTP1Channel.Configuration) {
        self.responder = responder
        self.stamp = stamp
        self.configuration = configuration
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // Hummingbird's pipeline, decoder limits and connection state as its own HTTP/1 server has them, with a
        // codec that does not parse every request's target (``OriginFormServerCodec``); its responder is never
        // called, as this loop answers the requests. The request parts stop at ``RequestPartsHandler``, which hands
        // them to the loop (ADR 0032); NIOAsyncChannel is kept for writing the answers.
        HTTP1Channel(responder: { _, _, _ in }, configuration: configuration).setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            try OriginFormServerCodec.replaceLibraryCodec(in: pipeline)
            let parts = RequestPartsHandler(loop: channel.eventLoop)
            try pipeline.addHandler(parts, position: .after(try pipeline.handler(type: HTTPConnectionStateHandler.self)))
            return Connection(asyncChannel: value, parts: parts.parts)
        }
    }

    public func handle(value connection: Value, logger: Logger) async {
        let asyncChannel = connection.asyncChannel
        do {
            try await withTaskCancellationHandler {
                try await asyncChannel.executeThenClose { _, outbound in
                    let malformed = try await serve(connection.parts, outbound: outbound, channel: asyncChannel.channel)
                    try await Self.end(outbound: outbound, channel: asyncChannel.channel, malformed: malformed)
                }
            } onCancel: {
                asyncChannel.channel.close(mode: .input, promise: nil)
            }
        } catch {
            Self.ended(by: error, logger: logger)
        }
    }

    /// Reading or writing failed: the caller went, or a request could not be answered. The channel is closed.
    @inline(never)
    private static func ended(by error: any Error, logger: Logger) {
        logger.trace("connection ended", metadata: ["error": "\(error)"])
    }

    /// Answers the connection's requests one after another until the caller closes, a request asks to close, a
    /// request is malformed (then true), or an answer cannot be written.
    ///
    /// A parked response is waited for one frame below this one, not below the frames that routed it: what the wait
    /// adds, the parked finish and its job's event stream, then fits in the slabs that reading a head already took,
    /// so a waiting call costs its connection no more slabs than an idle one (ADR 0024).
    @inline(never)
    private func serve(
        _ parts: RequestParts, outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>, channel: any Channel
    ) async throws -> Bool {
        do {
            while let head = try await Self.nextHead(parts) {
                let closes = Self.asksToClose(head)
                let body = InboundRequestBody.Progress()
                if let parked = try await answer(Self.request(head, body: parts, progress: body), outbound: outbound, channel: channel) {
                    try await answer(parked, outbound: outbound, channel: channel)
                }
                if closes { break }
                if case .busy = body.takeOver() {
                    // The route's reader of the body (an upload to a box that has already answered) is still reading:
                    // a second read would break the stream. Closing the connection ends that read too.
                    channel.close(promise: nil)
                    break
                }
            }
        } catch is HTTPParserError {
            return true
        }
        return false
    }

    /// Ends the connection once its loop is done: a malformed request answered 400 (nothing after it on the
    /// connection can be trusted), and the close awaited. Not part of the loop: what it needs would take room in the
    /// loop's frames for their whole life.
    @inline(never)
    private static func end(outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>, channel: any Channel, malformed: Bool) async throws {
        if malformed { try await outbound.write(contentsOf: badRequest) }
        outbound.finish()
        try await channel.closeFuture.get()
    }

    /// The request `head` begins: with its body whole when all of it came already (ADR 0036), or else with its body
    /// read through `parts`, how far told by `progress`. Not async, so that none of this takes room in the loop's
    /// frame.
    @inline(never)
    private static func request(
        _ head: HTTPRequest, body parts: RequestParts, progress: InboundRequestBody.Progress
    ) -> Request {
        if let whole = parts.wholeBody() { return Request(head: head, body: RequestBody(buffer: whole)) }
        return Request(head: head, body: RequestBody(asyncSequence: InboundRequestBody(parts, progress: progress)))
    }

    /// Whether the request asks for the connection to close after its answer.
    @inline(never)
    private static func asksToClose(_ head: HTTPRequest) -> Bool {
        head.headerFields.value(of: .connection)?.lowercased() == "close"
    }

    /// The answer to a malformed request, which closes the connection.
    private static var badRequest: [HTTPResponsePart] {
        let body = ByteBuffer(string: #"{"error":"malformed HTTP request"}"#)
        let fields: HTTPFields = [.connection: "close", .contentType: "application/json; charset=utf-8", .contentLength: "\(body.readableBytes)"]
        return [.head(HTTPResponse(status: .badRequest, headerFields: fields)), .body(body), .end(nil)]
    }

    /// Routes `request` in a child task and writes its answer, or gives back the answer the route parked, for the
    /// loop to wait for. The child, and every slab its frames took, is freed before a parked answer is waited for. A
    /// group, not an `async let`: that child is allocated in the parent's slabs and lives to the end of its scope.
    ///
    /// The answer is written here, not by the child: written by the child, durable `POST /jobs` from 32 clients ran
    /// about 10% slower, for a kilobyte less per waiting caller (ADR 0024).
    @inline(never)
    private func answer(
        _ request: Request, outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>, channel: any Channel
    ) async throws -> ResponseParking.Parked? {
        let parking = ResponseParking()
        let work = routing(request, channel: channel, parking: parking)
        let response = try await withThrowingTaskGroup(of: Response.self) { group in
            group.addTask(operation: work)
            // One child was added: `next()` gives its answer or throws its error, and is never empty.
            guard let response = try await group.next() else { throw CancellationError() }
            return response
        }
        if let parked = parking.take() { return parked }
        try await write(response, to: outbound, channel: channel)
        return nil
    }

    /// Waits for a parked answer and writes it. Throws when nobody is left to read it (the caller hung up, or the
    /// server is going away).
    ///
    /// The observers of a parked stream (its request log line) are told in a job on the loop, queued once its head
    /// is written with its first line, which does not wait for them (ADR 0026); the route, whose turn goes on, first
    /// announces the call as running (ADR 0033). Those of an answer of known length are told before it is written,
    /// so its caller finds them told once it has the answer.
    @inline(never)
    private func answer(_ parked: ResponseParking.Parked, outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>, channel: any Channel) async throws {
        guard let finished = await parked.finish() else {
            parked.report(nil)
            throw CancellationError()
        }
        let report = ParkedReport(parked, finished)
        defer { report.send() }
        if finished.body.contentLength != nil { report.send() }
        try await write(finished, to: outbound, channel: channel, afterHead: { channel.eventLoop.execute(report.send) })
    }

    /// Writes `response` with the server's stamp.
    @inline(never)
    private func write(
        _ response: Response, to outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>, channel: any Channel, afterHead: (@Sendable () -> Void)? = nil
    ) async throws {
        try await Self.write(stamp(response), to: outbound, channel: channel, afterHead: afterHead)
    }

    /// The child task's work: `request` routed. Not async, so that the request is held by the child's closure alone,
    /// not by the frame that waits for it.
    @inline(never)
    private func routing(_ request: Request, channel: any Channel, parking: ResponseParking) -> @Sendable () async throws -> Response {
        { [responder] in try await responder(request, channel, parking) }
    }

    /// Writes `response`, calling `afterHead` once the head of a response of unknown length is written. Its own
    /// function, so that the writers' locals take no room in the frame that routes.
    @inline(never)
    private static func write(
        _ response: Response, to outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>, channel: any Channel, afterHead: (@Sendable () -> Void)?
    ) async throws {
        do {
            if response.body.contentLength != nil {
                // Of known length, as Hummingbird writes it: a buffer, or nothing, whole in one write; a file's stream
                // after its head.
                try await ResponseWriter(outbound: outbound).write(response: response.head, body: response.body)
            } else {
                try await response.body.write(HeadDeferringWriter(head: response.head, outbound: outbound, channel: channel, afterHead: afterHead))
            }
        } catch is HTTPParserError {
            // The request turned out malformed while its answer was being written: a second answer would corrupt it.
            throw ParseErrorWhileAnswering()
        }
    }

    /// The next request's head, past what the last request left of its body; `nil` once the caller has closed.
    private static func nextHead(_ parts: RequestParts) async throws -> HTTPRequest? {
        while let part = try await parts.next() {
            if case .head(let head) = part { return head }
        }
        return nil
    }
}

/// Ends a connection whose request turned out malformed while its answer was being written.
struct ParseErrorWhileAnswering: Error {}
