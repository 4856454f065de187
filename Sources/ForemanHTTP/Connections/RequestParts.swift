import NIOCore
import NIOHTTPTypes

/// A connection's place in its stream of request parts, shared by its loop and the request bodies the loop hands
/// out (``InboundRequestBody``).
///
/// A class, so that what holds it holds a reference. The stream's iterator wraps the standard library's stream
/// iterator, whose size is known only at run time: held by value in an async frame it took an allocation of its own
/// from the connection's task, 272 bytes for the whole life of the loop (ADR 0024).
///
/// Its reads never overlap, which is what makes the unchecked sendability sound. A request's body readers read one
/// at a time (``InboundRequestBody/Progress``). The loop reads only while no reader can: before the first request,
/// and after it has taken the last request's body over or found it ended; when a read is still under way it closes
/// the connection instead of reading.
final class RequestParts: @unchecked Sendable {
    private var iterator: NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator

    init(_ iterator: NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator) {
        self.iterator = iterator
    }

    /// The next part, or `nil` once the caller has closed.
    func next() async throws -> HTTPRequestPart? {
        try await iterator.next()
    }
}
