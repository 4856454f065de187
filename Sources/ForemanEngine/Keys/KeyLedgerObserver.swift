import ForemanDomain
import ForemanStore

/// Passes every transition on, and settles each call's end in the ``KeyLedger`` (ADR 0022).
public struct KeyLedgerObserver: JobTransitionObserver {
    let inner: any JobTransitionObserver
    let ledger: KeyLedger

    public init(_ inner: any JobTransitionObserver, ledger: KeyLedger) {
        self.inner = inner
        self.ledger = ledger
    }

    public func entered(_ job: Job, from old: JobState?) {
        if job.state.isTerminal { ledger.ended(job) }
        inner.entered(job, from: old)
    }

    public func queueDepthChanged(_ depth: Int) {
        inner.queueDepthChanged(depth)
    }
}
