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
}
