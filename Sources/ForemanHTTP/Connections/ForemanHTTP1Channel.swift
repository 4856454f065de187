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
/// call costs every connection that waits, and every kept-alive one. And it writes a response whose length is not
/// known with its head held back for the first part of its body (``HeadDeferringWriter``): the head and the first
/// line of a stream go out in one write.
public struct ForemanHTTP1Channel: ServerChildChannel {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>
    /// The answer to a request, or `nil` when nobody is left to answer it: the connection then closes unanswered.
    public typealias Responder = @Sendable (Request, any Channel) async throws -> Response?

    let responder: Responder
    let configuration: HTTP1Channel.Configuration

    public init(responder: @escaping Responder, configuration: HTTP1Channel.Configuration) {
        self.responder = responder
        self.configuration = configuration
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // Hummingbird's pipeline, decoder limits and connection state as its own HTTP/1 server has them; its
        // responder is never called, as this loop answers the requests.
        HTTP1Channel(responder: { _, _, _ in }, configuration: configuration).setup(channel: channel, logger: logger)
    }

    public func handle(value asyncChannel: Value, logger: Logger) async {
        do {
            try await withTaskCancellationHandler {
                try await asyncChannel.executeThenClose { inbound, outbound in
                    try await serve(inbound.makeAsyncIterator(), outbound: outbound, channel: asyncChannel.channel)
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

    /// Answers the connection's requests one after another until the caller closes, a request asks to close, or an
    /// answer cannot be written.
    @inline(never)
    private func serve(
        _ parts: NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator, outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>, channel: any Channel
    ) async throws {
        var parts = parts
        do {
            while let head = try await Self.nextHead(&parts) {
                let closes = Self.asksToClose(head)
                let body = InboundRequestBody.Progress()
                try await answer(Self.request(head, body: parts, progress: body), outbound: outbound, channel: channel)
                if closes { break }
                if case .busy = body.takeOver() {
                    // The route's reader of the body (an upload to a box that has already answered) is still reading:
                    // a second read would break the stream. Closing the connection ends that read too.
                    channel.close(promise: nil)
                    break
                }
            }
        } catch is HTTPParserError {
            // A malformed request: nothing after it on the connection can be trusted.
            try await outbound.write(contentsOf: Self.badRequest)
        }
        outbound.finish()
        try await channel.closeFuture.get()
    }

    /// The request `head` begins, its body read through `parts`, how far told by `progress`. Not async, so that none
    /// of this takes room in the loop's frame.
    @inline(never)
    private static func request(
        _ head: HTTPRequest, body parts: NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator, progress: InboundRequestBody.Progress
    ) -> Request {
        Request(head: head, body: RequestBody(asyncSequence: InboundRequestBody(parts, progress: progress)))
    }

    /// Whether the request asks for the connection to close after its answer.
    @inline(never)
    private static func asksToClose(_ head: HTTPRequest) -> Bool {
        head.headerFields[.connection]?.lowercased() == "close"
    }

    /// The answer to a malformed request, which closes the connection.
    private static var badRequest: [HTTPResponsePart] {
        [.head(HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])), .end(nil)]
    }

    /// Routes `request` and writes its answer. Throws when there is none to write, or it could not be written: the
    /// connection then closes.
    @inline(never)
    private func answer(_ request: Request, outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>, channel: any Channel) async throws {
        guard let response = try await responder(request, channel) else { throw CancellationError() }
        try await Self.write(response, to: outbound)
    }

    /// Writes `response`. Its own function, so that the writers' locals take no room in the frame that routes.
    @inline(never)
    private static func write(_ response: Response, to outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>) async throws {
        do {
            if response.body.contentLength != nil {
                // Of known length, as Hummingbird writes it: a buffer, or nothing, whole in one write; a file's stream
                // after its head.
                try await ResponseWriter(outbound: outbound).write(response: response.head, body: response.body)
            } else {
                try await response.body.write(HeadDeferringWriter(head: response.head, outbound: outbound))
            }
        } catch is HTTPParserError {
            // The request turned out malformed while its answer was being written: a second answer would corrupt it.
            throw ParseErrorWhileAnswering()
        }
    }

    /// The next request's head, past what the last request left of its body; `nil` once the caller has closed.
    private static func nextHead(_ parts: inout NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator) async throws -> HTTPRequest? {
        while let part = try await parts.next() {
            if case .head(let head) = part { return head }
        }
        return nil
    }
}

/// Ends a connection whose request turned out malformed while its answer was being written.
struct ParseErrorWhileAnswering: Error {}
