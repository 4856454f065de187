import ServiceLifecycle

/// A wake-up signal that coalesces: any number of signals sent while nobody listens wait as one.
///
/// The worker and the webhook outbox each run a loop that looks for work when woken; a burst of commits must cost
/// one look, not one per commit.
public struct Wakeup: Sendable {
    public let signals: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (signals, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Wakes the loop; cheap, and safe to call from anywhere.
    public func signal() {
        continuation.yield()
    }

    /// Signals every `tick` until the task is cancelled or the service group shuts down: the loop's clock, for work
    /// that comes due with time rather than with a commit.
    public func signal(every tick: Duration) async {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            try? await gracefulShutdownAwareSleep(for: tick)
            signal()
        }
    }

    /// Signals once, `delay` after each signal of `alarm`, until the task is cancelled or the service group shuts
    /// down: a clock the loop winds only while it has work that comes due with time, so that an idle loop sets no
    /// timer at all.
    public func signal(after delay: Duration, eachTime alarm: Wakeup) async {
        for await _ in alarm.signals.cancelOnGracefulShutdown() {
            try? await gracefulShutdownAwareSleep(for: delay)
            guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return }
            signal()
        }
    }
}
