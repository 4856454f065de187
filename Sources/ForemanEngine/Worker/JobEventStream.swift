import NIOCore
import Synchronization

/// One job's events on their way to the one caller that waits for them: unbounded, read by one task at a time, and
/// finished by the job's end (``finish()``).
///
/// It stands where an `AsyncStream` would. A waiting native call spends its whole wait in ``next()``, and a task
/// keeps every slab its async frames ever took (ADR 0024): `AsyncStream`'s wait took nine allocations of its task's
/// slabs, 656 bytes with their headers; this one's takes two, 208.
///
/// A read sees its task's cancellation when it starts, not while it waits: a cancellation handler would be three
/// allocations more on every waiting call. Whoever cancels a waiting reader ends its wait through the stream. A
/// connection's task, cancelled, closes its input, and the connection's hang-up watch puts
/// ``JobEvent/interrupted(_:)`` in it (`HangUpWatcher`, ADR 0010).
public final class JobEventStream: AsyncSequence, Sendable {
    public typealias Element = JobEvent
    /// Takes a read's lines for the reader, where they are yielded: `true` when it took them, `false` when the reader
    /// must have them as an event.
    public typealias LineSink = @Sendable ([ByteBuffer]) -> Bool

    private struct State {
        /// Made on the first event kept: most reads find their reader already waiting.
        var buffered: CircularBuffer<JobEvent>?
        var waiter: UnsafeContinuation<JobEvent?, Never>?
        var finished = false
        var sink: LineSink?
        var firstLinesWritten: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    /// Has `sink` take the lines yielded while the reader waits with nothing left to read, in place of the reader
    /// (ADR 0027); `nil` stops it. Lines it takes come after every event the reader has had, and before any other.
    public func sinkLines(_ sink: LineSink?) {
        state.withLock { $0.sink = sink }
    }

    /// Has `action` run when the reader says it has written the job's first lines (``firstLinesWritten()``).
    public func whenFirstLinesWritten(_ action: @escaping @Sendable () -> Void) {
        state.withLock { $0.firstLinesWritten = action }
    }

    /// Said by the reader once it has written the job's first lines to its caller: runs what waits for that, once.
    public func firstLinesWritten() {
        let action = state.withLock { state in
            defer { state.firstLinesWritten = nil }
            return state.firstLinesWritten
        }
        action?()
    }

    /// Hands `event` to the reader, or keeps it for its next read; nothing happens once the stream has finished.
    public func yield(_ event: JobEvent) {
        if case .lines(let lines) = event, let sink = idleSink(), sink(lines) { return }
        let waiter = state.withLock { state -> UnsafeContinuation<JobEvent?, Never>? in
            guard !state.finished else { return nil }
            guard let waiter = state.waiter else {
                if state.buffered == nil { state.buffered = CircularBuffer(initialCapacity: 4) }
                state.buffered?.append(event)
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: event)
    }

    /// The sink, when the reader is waiting with nothing buffered: lines handed to it then come after everything the
    /// reader has had. Lines have one producer, the run, so no other lines can come between this look and the sink.
    private func idleSink() -> LineSink? {
        state.withLock { state in
            guard let sink = state.sink, !state.finished, state.waiter != nil, state.buffered?.isEmpty ?? true else { return nil }
            return sink
        }
    }

    /// Ends the stream: the reader gets what is buffered, then `nil`.
    public func finish() {
        let waiter = state.withLock { state -> UnsafeContinuation<JobEvent?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next event, or `nil` once the stream has finished and its events are read. A read by a cancelled task is
    /// `nil`, and finishes the stream, dropping what it held.
    public nonisolated(nonsending) func next() async -> JobEvent? {
        if Task.isCancelled {
            state.withLock { state in
                state.finished = true
                state.buffered = nil
            }
            return nil
        }
        return await withUnsafeContinuation { (continuation: UnsafeContinuation<JobEvent?, Never>) in
            let ready = state.withLock { state -> JobEvent?? in
                if let event = state.buffered?.popFirst() { return .some(event) }
                if state.finished { return .some(nil) }
                precondition(state.waiter == nil, "a job's events are read by one task at a time")
                state.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }

    /// Reads the stream's events in order.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: JobEventStream

        public nonisolated(nonsending) mutating func next() async -> JobEvent? { await stream.next() }
    }
}
