import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Writes the parts of a response's body after its head straight into its connection's pipeline, from the
/// connection's own loop, while the connection takes them (ADR 0027); and a stream's head with its first parts
/// (ADR 0037).
///
/// A long stream writes a part for every read from the box. Through the connection's async writer each part cost
/// its lock, a cancellation handler and a hop of the writing task for every async call on the way, more than the
/// write itself. A part it cannot write now goes through the async writer, which waits until the connection takes
/// more. This writer is used only when no write through the async writer is under way, so the parts keep their order.
///
/// A part of a chunked answer is written as a chunk by the connection's ``ChunkedBodyFramer``, past the handlers
/// above it, which do nothing with a body part (ADR 0028).
struct DirectBodyWriter: Sendable {
    private let channel: any Channel
    private let framer: NIOLoopBoundBox<FramerLookup>

    /// The connection's framer, looked up on the loop at the first write.
    private enum FramerLookup {
        case notYet
        case found(ChunkedBodyFramer)
        case absent
    }

    init(channel: any Channel) {
        self.channel = channel
        self.framer = .makeBoxSendingValue(.notYet, as: FramerLookup.self, eventLoop: channel.eventLoop)
    }

    /// Writes `part` now and says so; `false` when the caller is not on the connection's loop or the connection will
    /// not take more. Throws when the connection has closed.
    func writeNow(_ part: ByteBuffer) throws -> Bool {
        guard channel.eventLoop.inEventLoop, channel.isWritable else { return false }
        guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
        if case .found(let framer) = connectionFramer(), framer.writeAndFlush(part) { return true }
        channel.pipeline.syncOperations.writeAndFlush(NIOAny(HTTPResponsePart.body(part)), promise: nil)
        return true
    }

    /// Writes an answer's `head` with the first `parts` of its body, flushed once, and says so; `false` when the caller
    /// is not on the connection's loop or the connection will not take more (ADR 0037). Throws when the connection
    /// has closed.
    func writeNow(_ head: HTTPResponse, with parts: some Sequence<ByteBuffer>) throws -> Bool {
        guard channel.eventLoop.inEventLoop, channel.isWritable else { return false }
        guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
        let pipeline = channel.pipeline.syncOperations
        pipeline.write(NIOAny(HTTPResponsePart.head(head)), promise: nil)
        for part in parts { pipeline.write(NIOAny(HTTPResponsePart.body(part)), promise: nil) }
        pipeline.flush()
        return true
    }

    private func connectionFramer() -> FramerLookup {
        if case .notYet = framer.value {
            framer.value = (try? channel.pipeline.syncOperations.handler(type: ChunkedBodyFramer.self)).map { .found($0) } ?? .absent
        }
        return framer.value
    }
}
