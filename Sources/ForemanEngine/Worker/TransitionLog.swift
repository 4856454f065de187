import ForemanDomain
import ForemanStore
import Logging

/// The log line and the counters of each state change, fed by the store and, for native calls, by the worker
/// (``JobTransitionObserver``).
public struct TransitionLog: JobTransitionObserver {
    let metrics: ForemanMetrics
    let logger: Logger

    public init(metrics: ForemanMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    public func entered(_ job: Job, from old: JobState?) {
        metrics.jobEntered(job.state, job)
        var elapsed: (key: String, milliseconds: Int)?
        switch job.state {
        case .running:
            if let startedAt = job.startedAt {
                let wait = startedAt.timeIntervalSince(job.createdAt)
                metrics.queueWait(wait, job)
                elapsed = ("queue_wait_ms", Int(wait * 1000))
            }
        case .succeeded, .failed, .cancelled:
            if let startedAt = job.startedAt, let finishedAt = job.finishedAt {
                let run = finishedAt.timeIntervalSince(startedAt)
                metrics.runTime(run, job)
                elapsed = ("run_ms", Int(run * 1000))
            }
        case .queued:
            break
        }
        // The line's metadata is built only for a logger that writes it.
        guard logger.logLevel <= .info else { return }
        var metadata = job.logMetadata
        metadata["state"] = .string(job.state.rawValue)
        if let error = job.error { metadata["error"] = "\(error)" }
        if let elapsed { metadata[elapsed.key] = "\(elapsed.milliseconds)" }
        logger.info("job \(job.state.rawValue)", metadata: metadata)
    }

    public func queueDepthChanged(_ depth: Int) {
        metrics.queueDepth(depth)
    }
}
