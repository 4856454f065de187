import ForemanDomain

/// Told of every committed state change, in commit order, and of the queue depth that follows: the log line and
/// the metrics of each change hang here, beside the store, not in it.
public protocol JobTransitionObserver: Sendable {
    /// `job` entered its current state from `old` (`nil`: it is new). Called once per change, after the commit.
    func committed(_ job: Job, from old: JobState?)
    /// Jobs queued in both lanes, after a commit that changed it (and once at startup).
    func queueDepthChanged(_ depth: Int)
}

/// Observes nothing: for stores built without a server (store tests).
public struct IgnoringTransitions: JobTransitionObserver {
    public init() {}
    public func committed(_ job: Job, from old: JobState?) {}
    public func queueDepthChanged(_ depth: Int) {}
}
