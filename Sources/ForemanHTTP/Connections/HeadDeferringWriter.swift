import HTTPTypes
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// Writes a response whose length is not known beforehand, a stream: its head goes out with the first part of its
/// body, in one write and one flush, or with its end when it has no body.
///
/// A generation's first line is ready when its response is made, so the head and that line reach the caller
/// together: one `writev` and one wake-up of the caller where there were two (ADR 0024).
///
/// The parts after the head go straight into the connection's pipeline while it takes them, from its own loop: a
/// long stream writes a part for every read from the box, and the async writer's bookkeeping for each (its lock,
/// its cancellation handler, its hops) cost more than the write (ADR 0027). Whenever the connection will not take
/// more, the part goes through the async writer, which waits until it will.
struct HeadDeferringWriter: ResponseBodyWriter {
    private var head: HTTPResponse?
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>
    private let channel: any Channel
    /// Called once the head is written.
    private let afterHead: (@Sendable () -> Void)?

    init(head: HTTPResponse, outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>, channel: any Channel, afterHead: (@Sendable () -> Void)? = nil) {
        self.head = head
        self.outbound = outbound
        self.channel = channel
        self.afterHead = afterHead
    }

    mutating func write(_ buffer: ByteBuffer) async throws {
        guard let head else { return try await writeBody(buffer) }
        self.head = nil
        try await outbound.write(contentsOf: [.head(head), .body(buffer)])
        afterHead?()
    }

    mutating func write(contentsOf buffers: some Sequence<ByteBuffer>) async throws {
        let withHead = head != nil
        var parts = head.map { [HTTPResponsePart.head($0)] } ?? []
        head = nil
        parts += buffers.map { .body($0) }
        try await outbound.write(contentsOf: parts)
        if withHead { afterHead?() }
    }

    /// Writes a part of the body after the head. Straight into the pipeline only when nothing can be waiting in the
    /// async writer: every earlier write through it has returned, so it has handed its parts on, and the order holds.
    private func writeBody(_ buffer: ByteBuffer) async throws {
        guard channel.eventLoop.inEventLoop, channel.isWritable else { return try await outbound.write(.body(buffer)) }
        // The caller has gone: the relay stops, as it does when the async writer throws.
        guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
        channel.pipeline.syncOperations.writeAndFlush(NIOAny(HTTPResponsePart.body(buffer)), promise: nil)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        guard let head else { return try await outbound.write(.end(trailingHeaders)) }
        try await outbound.write(contentsOf: [.head(head), .end(trailingHeaders)])
        afterHead?()
    }
}
