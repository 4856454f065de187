import NIOCore
import Synchronization

/// Tells a native call's observer that the call runs, once: when its first lines are written, at its run's end, or
/// when a bound after its start has passed, whichever comes first (ADR 0033).
///
/// Told before the box has answered, the observer's log records and counters would stand between the box's answer
/// and its relay: on one machine the box takes the core its request was written from, and foreman's work queued
/// behind the write runs only once the box has answered. The bound keeps a call whose box is loading a model from
/// going unannounced meanwhile.
final class RunningAnnouncement: Sendable {
    private let tell: @Sendable () -> Void
    /// Held while telling, so that a moment that comes second, on another thread, returns only once the call is
    /// told: the run's end is recorded after it.
    private let told = Mutex(false)
    /// The bound's timer, on the run's loop.
    private let timer: NIOLoopBoundBox<NIOScheduledCallback?>

    init(on loop: any EventLoop, tell: @escaping @Sendable () -> Void) {
        self.tell = tell
        self.timer = .makeEmptyBox(valueType: NIOScheduledCallback.self, eventLoop: loop)
    }

    /// Announces the call once `bound` has passed, unless something has first. Must be called on the loop.
    func arm(after bound: TimeAmount) {
        guard !told.withLock({ $0 }) else { return }
        timer.value = try? timer.eventLoop.assumeIsolated().scheduleCallback(in: bound, handler: Expiry(announcement: self))
    }

    /// Announces the call unless it has been.
    func now() {
        let first = told.withLock { told in
            guard !told else { return false }
            tell()
            told = true
            return true
        }
        guard first, timer.eventLoop.inEventLoop, let pending = timer.value else { return }
        timer.value = nil
        pending.cancel()
    }

    private struct Expiry: NIOScheduledCallbackHandler, Sendable {
        let announcement: RunningAnnouncement

        func handleScheduledCallback(eventLoop: some EventLoop) {
            announcement.timer.value = nil
            announcement.now()
        }
    }
}
