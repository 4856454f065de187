import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// A request's body as its connection reads it: the body parts up to the request's end.
///
/// It reads through a copy of the connection loop's iterator, which shares the loop's place in the stream, as
/// Hummingbird's own loop does: the route reads the body, then the loop reads whatever the route left. The two never
/// read at once, the loop waiting for the route's answer first: that is what makes the unchecked sendability sound.
struct InboundRequestBody: AsyncSequence, @unchecked Sendable {
    typealias Element = ByteBuffer
    private let parts: NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator

    init(_ parts: NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator) {
        self.parts = parts
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(parts: parts)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var parts: NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator
        var ended = false

        mutating func next() async throws -> ByteBuffer? {
            guard !ended else { return nil }
            switch try await parts.next() {
            case .body(let buffer):
                return buffer
            case .end, nil:
                ended = true
                return nil
            case .head:
                // The decoder gives a request's end before the next request's head: this cannot happen.
                ended = true
                throw UnexpectedRequestPart()
            }
        }
    }
}

/// A request head where a body part or the request's end was due.
struct UnexpectedRequestPart: Error {}
