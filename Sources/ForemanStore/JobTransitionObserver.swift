import ForemanDomain

/// Told of every state change, in order, and of the queue depth that follows: the log line and the metrics of each
/// change hang here, beside the store, not in it.
///
/// A durable job's change is reported after its commit. A native call's is reported when it happens: its row is
/// written behind it, and that commit reports nothing (ADR 0016).
public protocol JobTransitionObserver: Sendable {
    /// `job` entered its current state from `old` (`nil`: it is new). Called once per change.
    func entered(_ job: Job, from old: JobState?)
    /// Jobs queued in both lanes, after a commit that changed it (and once at startup).
    func queueDepthChanged(_ depth: Int)
}

/// Observes nothing: for stores built without a server (store tests).
public struct IgnoringTransitions: JobTransitionObserver {
    public init() {}
    public func entered(_ job: Job, from old: JobState?) {}
    public func queueDepthChanged(_ depth: Int) {}
}
