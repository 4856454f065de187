import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Formats log records and writes their lines to a file descriptor from a thread of its own, a batch at a time:
/// whoever logs, an event loop in the middle of a call among them, only appends a record to a buffer (ADR 0025).
///
/// Formatted and written by the thread that logs, each line would cost a call's event loop its formatting and a
/// `write(2)` (two of a native call's four lines come before its request reaches the box), and a standard error
/// whose reader stalls (a full pipe, a terminal on hold) would stall the loop with it. Here a line waits at most
/// `window` before it is written; a line that must not wait (a warning or worse, or the process ending) is written
/// with everything before it by ``flush()``, in order.
///
/// The buffer is bounded: records that arrive while it is full are dropped and counted, and the count is written as
/// a line of its own once there is room, so that nobody takes a gap in the log for silence.
public final class LogLineWriter: Sendable {
    /// The process's standard error, as `foreman serve` logs to it.
    public static let standardError = LogLineWriter(descriptor: STDERR_FILENO)

    private let state = Mutex(State())
    /// Held while records are taken from the buffer, formatted and written, so that batches go out in the order
    /// they were taken.
    private let writing = Mutex(())
    private let pending = DispatchSemaphore(value: 0)
    private let window: Duration
    private let limit: Int
    private let sink: @Sendable (UnsafeRawBufferPointer) -> Void

    private struct State {
        var records: [LogRecord] = []
        /// The writer thread has been told of the buffer's contents and has not taken them yet.
        var signalled = false
        var dropped = 0
    }

    /// - Parameters:
    ///   - window: how long a line may wait for others to join its write.
    ///   - limit: the most records waiting at once.
    ///   - sink: writes the formatted lines; by default to `descriptor`, retrying partial and interrupted writes.
    public init(
        descriptor: Int32,
        window: Duration = .milliseconds(5),
        limit: Int = 4096,
        sink: (@Sendable (UnsafeRawBufferPointer) -> Void)? = nil
    ) {
        self.window = window
        self.limit = limit
        self.sink = sink ?? { bytes in Self.writeAll(bytes, to: descriptor) }
        let thread = Thread { [self] in run() }
        thread.name = "foreman-log"
        thread.start()
    }

    /// Appends `record` to what waits to be written.
    public func append(_ record: LogRecord) {
        let wake = state.withLock { state -> Bool in
            guard state.records.count < limit else {
                state.dropped += 1
                return false
            }
            if state.dropped > 0 {
                state.records.append(LogRecord(
                    time: record.time, level: .warning, message: "log lines dropped: the log's reader fell behind",
                    fields: ["lines": "\(state.dropped)"]
                ))
                state.dropped = 0
            }
            state.records.append(record)
            guard !state.signalled else { return false }
            state.signalled = true
            return true
        }
        if wake { pending.signal() }
    }

    /// Formats and writes everything appended so far, on the calling thread, before returning.
    public func flush() {
        writing.withLock { _ in
            let records = state.withLock { state in
                let taken = state.records
                // Room for a batch like this one, but not a burst's: a buffer kept at its largest would be allocated
                // whole at every write.
                state.records = []
                state.records.reserveCapacity(min(taken.count, 256))
                return taken
            }
            guard !records.isEmpty else { return }
            var text = ""
            for record in records { record.append(to: &text) }
            text.withUTF8 { sink(UnsafeRawBufferPointer($0)) }
        }
    }

    /// The writer thread: waits to be told of a line, lets others join it for `window`, and writes them.
    private func run() {
        while true {
            pending.wait()
            let (seconds, attoseconds) = window.components
            var pause = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            var left = timespec()
            while nanosleep(&pause, &left) != 0, errno == EINTR { pause = left }
            state.withLock { $0.signalled = false }
            flush()
        }
    }

    /// Writes `bytes` to `descriptor` with `write(2)`, retrying a partial or interrupted write. With nowhere left to
    /// write, the bytes are dropped: there is no one to tell.
    private static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) {
        guard var next = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let written = write(descriptor, next, left)
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            next += written
            left -= written
        }
    }
}
