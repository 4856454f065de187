import NIOCore
import Synchronization

/// A streamed response body: the chunks one exchange's channel handler feeds in (``Feed``), read by one task at a
/// time.
///
/// It stands where an `AsyncThrowingStream` stood. A long stream hands on a chunk for every read from the box, and
/// that stream's generic code ran unspecialized here: it looked up type metadata, took its lock and made a
/// cancellation handler on every chunk, about a tenth of foreman's own CPU while relaying (ADR 0027). This one is
/// made for `ByteBuffer`, and a read that finds a chunk waiting takes it without a cancellation handler.
///
/// As with that stream, a reader cancelled while it waits reads the end, and a reader that goes away before the end
/// (cancelled, or the body dropped unread) is reported through `readerGone`, which closes the exchange.
final class BodyChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let feed: Feed

    /// A body fed through the returned ``Feed``; `readerGone` is called once if its reader goes before the end.
    static func make(readerGone: @escaping @Sendable () -> Void) -> (body: BodyChunks, feed: Feed) {
        let feed = Feed(readerGone: readerGone)
        return (BodyChunks(feed), feed)
    }

    private init(_ feed: Feed) {
        self.feed = feed
    }

    deinit {
        feed.abandon()
    }

    /// The next chunk; `nil` at the end, or once the reading task is cancelled. Throws the error the body ended with,
    /// after the chunks that came before it.
    nonisolated(nonsending) func next() async throws -> ByteBuffer? {
        switch try feed.take() {
        case .chunk(let chunk): return chunk
        case .ended: return nil
        case .wait: break
        }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<ByteBuffer?, any Error>) in
                feed.wait(continuation)
            }
        } onCancel: { [feed] in
            feed.abandon()
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }

    /// Reads the body's chunks in order.
    struct AsyncIterator: AsyncIteratorProtocol {
        let body: BodyChunks

        nonisolated(nonsending) mutating func next() async throws -> ByteBuffer? { try await body.next() }
    }

    /// The channel handler's side of a body: chunks in, and its end.
    final class Feed: Sendable {
        private struct State {
            /// Made on the first chunk kept: most chunks find their reader already waiting.
            var buffered: CircularBuffer<ByteBuffer>?
            var waiter: UnsafeContinuation<ByteBuffer?, any Error>?
            /// How the body ended, once it has; the reader still gets what is buffered first.
            var ended: Result<Void, any Error>?
            var readerGone = false
        }

        private let state = Mutex(State())
        private let readerGone: @Sendable () -> Void

        fileprivate init(readerGone: @escaping @Sendable () -> Void) {
            self.readerGone = readerGone
        }

        /// Hands `chunk` to the reader, or keeps it for the reader's next read; nothing once the body has ended.
        func yield(_ chunk: ByteBuffer) {
            let waiter = state.withLock { state -> UnsafeContinuation<ByteBuffer?, any Error>? in
                guard state.ended == nil else { return nil }
                guard let waiter = state.waiter else {
                    if state.buffered == nil { state.buffered = CircularBuffer(initialCapacity: 4) }
                    state.buffered?.append(chunk)
                    return nil
                }
                state.waiter = nil
                return waiter
            }
            waiter?.resume(returning: chunk)
        }

        /// Ends the body, with `error` if it broke off; nothing once it has ended.
        func finish(throwing error: (any Error)? = nil) {
            let waiter = state.withLock { state -> UnsafeContinuation<ByteBuffer?, any Error>? in
                guard state.ended == nil else { return nil }
                state.ended = error.map { .failure($0) } ?? .success(())
                defer { state.waiter = nil }
                return state.waiter
            }
            guard let waiter else { return }
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }

        /// What a read finds without waiting.
        fileprivate enum Taken {
            case chunk(ByteBuffer)
            case ended
            case wait
        }

        /// A chunk kept, or the body's end (throwing the error it ended with), without waiting.
        fileprivate func take() throws -> Taken {
            try state.withLock { state in
                if let chunk = state.buffered?.popFirst() { return .chunk(chunk) }
                guard let ended = state.ended else { return .wait }
                try ended.get()
                return .ended
            }
        }

        /// Waits with `continuation` for the next chunk, or resumes it at once if one came meanwhile.
        fileprivate func wait(_ continuation: UnsafeContinuation<ByteBuffer?, any Error>) {
            let ready = state.withLock { state -> Result<ByteBuffer?, any Error>? in
                if let chunk = state.buffered?.popFirst() { return .success(chunk) }
                if let ended = state.ended { return ended.map { nil } }
                precondition(state.waiter == nil, "a body is read by one task at a time")
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }

        /// The reader went before the end: the body ends, the reader (if it waits) reads the end, and the exchange
        /// is told once.
        fileprivate func abandon() {
            let (waiter, tell) = state.withLock { state -> (UnsafeContinuation<ByteBuffer?, any Error>?, Bool) in
                let tell = state.ended == nil && !state.readerGone
                state.readerGone = true
                if state.ended == nil { state.ended = .success(()) }
                state.buffered = nil
                defer { state.waiter = nil }
                return (state.waiter, tell)
            }
            waiter?.resume(returning: nil)
            if tell { readerGone() }
        }
    }
}
