import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import Synchronization

/// A request's body as its connection reads it: the body parts up to the request's end.
///
/// It reads through the connection loop's place in the stream (``RequestParts``), as Hummingbird's own loop shares
/// its iterator: the route reads the body, then the loop reads whatever the route left. Two reads of the stream at
/// once would break it, and ``Progress`` keeps them apart.
struct InboundRequestBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    private let parts: RequestParts
    private let progress: Progress

    init(_ parts: RequestParts, progress: Progress) {
        self.parts = parts
        self.progress = progress
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(parts: parts, progress: progress)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let parts: RequestParts
        let progress: Progress
        var ended = false

        mutating func next() async throws -> ByteBuffer? {
            // Past the end, or the loop has taken the rest of the body over: nothing more for this reader.
            guard !ended, progress.enter() else {
                ended = true
                return nil
            }
            let part: HTTPRequestPart?
            do {
                part = try await parts.next()
            } catch {
                ended = true
                progress.leave(atEnd: true)
                throw error
            }
            switch part {
            case .body(let buffer):
                progress.leave(atEnd: false)
                return buffer
            case .end, nil:
                ended = true
                progress.leave(atEnd: true)
                return nil
            case .head:
                // The decoder gives a request's end before the next request's head: this cannot happen.
                ended = true
                progress.leave(atEnd: true)
                throw UnexpectedRequestPart()
            }
        }
    }

    /// Who may read a request's body: its readers one read at a time, until the loop takes the rest over.
    ///
    /// A route may hand the body to a reader that outlives the answer: an upload streamed to a box that answers before
    /// the upload's end (Ollama answers a blob it already holds without reading it). Once the answer is written, the
    /// loop takes the body over to skip what is left of it, unless a read is under way, which only closing the
    /// connection can end. A read after the takeover finds the body ended.
    final class Progress: Sendable {
        /// What the loop may do with the rest of the body once the answer is written.
        enum Rest {
            /// Nothing is left: the next request's head is next.
            case nothing
            /// Skip it: no reader will read it any more.
            case skip
            /// A read is under way: the connection must close.
            case busy
        }

        private static let idle: UInt8 = 0, reading: UInt8 = 1, takenOver: UInt8 = 2, ended: UInt8 = 3
        private let state = Atomic<UInt8>(Progress.idle)

        init() {}

        /// Begins a read; false when the body has ended or the loop has taken it over.
        fileprivate func enter() -> Bool {
            state.compareExchange(expected: Self.idle, desired: Self.reading, ordering: .acquiring).exchanged
        }

        fileprivate func leave(atEnd: Bool) {
            state.store(atEnd ? Self.ended : Self.idle, ordering: .releasing)
        }

        /// Takes what is left of the body over for the loop: from now on no reader reads it.
        func takeOver() -> Rest {
            let (taken, found) = state.compareExchange(expected: Self.idle, desired: Self.takenOver, ordering: .acquiringAndReleasing)
            if taken { return .skip }
            return found == Self.reading ? .busy : .nothing
        }
    }
}

/// A request head where a body part or the request's end was due.
struct UnexpectedRequestPart: Error {}
