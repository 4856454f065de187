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
///
/// A reader on the feeding loop may instead have the chunks handed to a sink as they come (``drain(into:)``): no task
/// then runs between the box's socket and whatever the sink does with them.
final class BodyChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    /// Takes a chunk, on the feeding loop.
    typealias Sink = @Sendable (ByteBuffer) -> Void

    let feed: Feed

    /// A body fed through the returned ``Feed`` on `loop`; `readerGone` is called once if its reader goes before the
    /// end.
    static func make(on loop: any EventLoop, readerGone: @escaping @Sendable () -> Void) -> (body: BodyChunks, feed: Feed) {
        let feed = Feed(loop: loop, readerGone: readerGone)
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

    /// Hands the chunks kept and every chunk to come to `sink`, in order, until the body ends; then returns, or
    /// throws the error the body ended with. `false`, at once, when the caller is not on the feeding loop: the sink
    /// runs inside the feed, and only there is nothing else running at the same time. Cancelled, it returns as a read
    /// does, at the end, and closes the exchange.
    nonisolated(nonsending) func drain(into sink: @escaping Sink) async throws -> Bool {
        guard feed.loop.inEventLoop else { return false }
        while case .chunk(let chunk) = try feed.take() { sink(chunk) }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (end: UnsafeContinuation<Void, any Error>) in
                feed.drain(into: sink, until: end)
            }
        } onCancel: { [feed] in
            feed.abandon()
        }
        return true
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
            /// A draining reader's sink, and the wait for the end.
            var sink: Sink?
            var drained: UnsafeContinuation<Void, any Error>?
        }

        private let state = Mutex(State())
        fileprivate let loop: any EventLoop
        private let readerGone: @Sendable () -> Void

        fileprivate init(loop: any EventLoop, readerGone: @escaping @Sendable () -> Void) {
            self.loop = loop
            self.readerGone = readerGone
        }

        /// Hands `chunk` to the reader (or its sink), or keeps it for the reader's next read; nothing once the body has
        /// ended.
        func yield(_ chunk: ByteBuffer) {
            let taker = state.withLock { state -> Taker? in
                guard state.ended == nil else { return nil }
                if let sink = state.sink { return .sink(sink) }
                if let waiter = state.waiter {
                    state.waiter = nil
                    return .reader(waiter)
                }
                if state.buffered == nil { state.buffered = CircularBuffer(initialCapacity: 4) }
                state.buffered?.append(chunk)
                return nil
            }
            switch taker {
            case .sink(let sink): sink(chunk)
            case .reader(let waiter): waiter.resume(returning: chunk)
            case nil: break
            }
        }

        /// Who takes a chunk that is not kept.
        private enum Taker {
            case sink(Sink)
            case reader(UnsafeContinuation<ByteBuffer?, any Error>)
        }

        /// Ends the body, with `error` if it broke off; nothing once it has ended.
        func finish(throwing error: (any Error)? = nil) {
            let (waiter, drained) = state.withLock { state -> (UnsafeContinuation<ByteBuffer?, any Error>?, UnsafeContinuation<Void, any Error>?) in
                guard state.ended == nil else { return (nil, nil) }
                state.ended = error.map { .failure($0) } ?? .success(())
                defer { (state.waiter, state.drained, state.sink) = (nil, nil, nil) }
                return (state.waiter, state.drained)
            }
            if let error {
                waiter?.resume(throwing: error)
                drained?.resume(throwing: error)
            } else {
                waiter?.resume(returning: nil)
                drained?.resume()
            }
        }

        /// Has `sink` take every chunk from now on, and resumes `end` when the body ends (at once if it has).
        fileprivate func drain(into sink: @escaping Sink, until end: UnsafeContinuation<Void, any Error>) {
            let ended = state.withLock { state -> Result<Void, any Error>? in
                if let ended = state.ended { return ended }
                precondition(state.waiter == nil && state.drained == nil, "a body is read by one task at a time")
                (state.sink, state.drained) = (sink, end)
                return nil
            }
            if let ended { end.resume(with: ended) }
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
            let (waiter, drained, tell) = state.withLock { state -> (UnsafeContinuation<ByteBuffer?, any Error>?, UnsafeContinuation<Void, any Error>?, Bool) in
                let tell = state.ended == nil && !state.readerGone
                state.readerGone = true
                if state.ended == nil { state.ended = .success(()) }
                state.buffered = nil
                defer { (state.waiter, state.drained, state.sink) = (nil, nil, nil) }
                return (state.waiter, state.drained, tell)
            }
            waiter?.resume(returning: nil)
            drained?.resume()
            if tell { readerGone() }
        }
    }
}
