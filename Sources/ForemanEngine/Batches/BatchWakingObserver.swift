import ForemanDomain
import ForemanStore

/// Passes every committed transition on, and wakes the ``BatchRunner`` when a batch's job ends.
public struct BatchWakingObserver: JobTransitionObserver {
    let inner: any JobTransitionObserver
    let wakeup: Wakeup

    public init(_ inner: any JobTransitionObserver, wakeup: Wakeup) {
        self.inner = inner
        self.wakeup = wakeup
    }

    public func entered(_ job: Job, from old: JobState?) {
        inner.entered(job, from: old)
        if job.batchID != nil, job.state.isTerminal { wakeup.signal() }
    }

    public func queueDepthChanged(_ depth: Int) {
        inner.queueDepthChanged(depth)
    }
}
