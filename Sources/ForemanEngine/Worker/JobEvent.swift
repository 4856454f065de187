import NIOCore
import Synchronization

/// What a waiting caller learns about its job, in order: `started`, any number of `chunk`s, `finished`.
public enum JobEvent: Sendable {
    /// The target answered with this status and content type.
    case started(status: Int, contentType: String?)
    /// The whole upstream NDJSON lines of one read from the box (or the whole non-streamed body), byte for byte, in
    /// order. A box that sends faster than one line per read is relayed a read at a time, as a bare proxy would.
    case lines([ByteBuffer])
    /// The job ended; no more events follow.
    case finished(JobOutcome)
    /// Never sent by the worker: the caller's own side puts it in the stream (its connection closed, or its wait
    /// bound passed), so a caller waits on this one stream alone (see ``JobWatch``).
    case interrupted(CancelReason)
}

/// A caller's view of its job: the events, and a way for the caller's side to interrupt its own wait.
public struct JobWatch: Sendable {
    public let events: JobEventStream

    init(events: JobEventStream) {
        self.events = events
    }

    /// Puts ``JobEvent/interrupted(_:)`` in the stream; nothing happens once the job has finished.
    public func interrupt(_ reason: CancelReason) {
        events.yield(.interrupted(reason))
    }
}

/// How a job ended, as a waiting caller needs to know it.
public enum JobOutcome: Sendable, Equatable {
    case succeeded
    /// The target itself reported the error, and its words were already relayed as chunks.
    case upstreamError(String)
    /// The stream broke off; the caller has not been told yet.
    case interrupted(String)
    case cancelled(CancelReason)
}

/// Why a job was cancelled.
public enum CancelReason: String, Sendable, Equatable {
    /// The synchronous caller disconnected.
    case callerGone = "caller disconnected"
    /// The synchronous caller's wait bound passed before the job started.
    case waitTimeout = "timed out waiting for the target"
    /// Someone asked for it (`DELETE /jobs/{id}`).
    case requested = "cancelled by request"
    /// foreman is shutting down.
    case shutdown = "foreman shut down"
}

/// Connects the worker to the callers waiting on jobs, one event stream per job.
///
/// A caller subscribes before its job is enqueued, so no event can be missed; jobs nobody waits for
/// (the `/jobs` surface) simply have no subscriber.
///
/// Its state is two dictionaries under a mutex, not an actor's: every native call subscribes on its way to the box,
/// and a visit would be two task switches there (ADR 0040). Streams and signals are ended after the lock is let go,
/// since ending one may resume its reader.
public final class JobBroker: Sendable {
    private struct State {
        var channels: [String: JobEventStream] = [:]
        var endSignals: [String: [AsyncStream<Void>.Continuation]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// A stream that finishes once the worker has recorded the end of job `id`. Register it before causing
    /// the end (a cancel), so the signal cannot be missed; drop it with ``forgetEndSignals(_:)`` if unused.
    public func endSignal(_ id: String) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        state.withLock { $0.endSignals[id, default: []].append(continuation) }
        return stream
    }

    public func forgetEndSignals(_ id: String) {
        let signals = state.withLock { $0.endSignals.removeValue(forKey: id) }
        for signal in signals ?? [] { signal.finish() }
    }

    /// The event stream of job `id`; events before the job starts are buffered.
    public func subscribe(_ id: String) -> JobWatch {
        let stream = JobEventStream()
        state.withLock { $0.channels[id] = stream }
        return JobWatch(events: stream)
    }

    /// The stream the worker yields events into, if anyone waits for `id`.
    public func channel(for id: String) -> JobEventStream? {
        state.withLock { $0.channels[id] }
    }

    /// Ends the end signals of `id`, then sends the final event and closes the stream.
    public func finish(_ id: String, _ outcome: JobOutcome) {
        let (signals, stream) = state.withLock { ($0.endSignals.removeValue(forKey: id), $0.channels.removeValue(forKey: id)) }
        for signal in signals ?? [] { signal.finish() }
        guard let stream else { return }
        stream.yield(.finished(outcome))
        stream.finish()
    }

    /// Forgets a subscription whose caller no longer listens.
    public func unsubscribe(_ id: String) {
        state.withLock { $0.channels.removeValue(forKey: id) }?.finish()
    }
}
