import ForemanDomain
import ForemanStore
import Foundation
import Logging
import ServiceLifecycle

/// Writes down how a run ended and tells whoever waits: shared by the ``Worker`` of each lane.
struct JobRecorder: Sendable {
    let store: any JobStore
    let broker: JobBroker
    /// Told of a native call's end; the store tells it of a durable job's, after the commit.
    let observer: any JobTransitionObserver
    let logger: Logger

    /// Persists how the job ended, then tells its caller. A `/jobs` job's row is committed first; a native call's
    /// is handed to the store to be written behind (ADR 0016). Either way, whoever looks the job up after the
    /// response ends sees its final state.
    func record(_ job: Job, _ result: JobResult, cancelReason: CancelReason) async {
        if !job.origin.isInteractive, case .cancelled = result.outcome, cancelReason == .shutdown {
            // Nobody cancelled this work: foreman is stopping. It runs again after the restart.
            do {
                try await store.requeue(id: job.id)
            } catch {
                logger.error("could not requeue a job at shutdown", metadata: ["job": "\(job.id)", "error": "\(error)"])
            }
            broker.finish(job.id, .cancelled(.shutdown))
            return
        }
        let (ended, outcome) = Self.end(of: job, result, cancelReason: cancelReason)
        if job.origin.isInteractive {
            await recordNative(ended, from: .running, outcome: outcome)
            return
        }
        let state = ended.state
        let message = ended.error
        let usage = ended.usage
        let finish = { @Sendable in
            try await store.finish(
                id: job.id,
                state: state,
                error: message,
                response: state == .succeeded ? result.response : nil,
                artifacts: Self.artifacts(of: job, result),
                usage: usage,
                durability: .full
            )
        }
        do {
            try await finish()
            broker.finish(job.id, outcome)
        } catch {
            // The caller has had its answer; only the record is missing. The run stays listed while the outcome is
            // retried, so a drain waits for it. A shutdown stops the retries, and the next start's recovery settles
            // the job.
            logger.error("could not record job outcome; retrying", metadata: ["job": "\(job.id)", "error": "\(error)"])
            broker.finish(job.id, outcome)
            var delay = Duration.milliseconds(250)
            while true {
                do {
                    try await gracefulShutdownAwareSleep(for: delay)
                    try await finish()
                    logger.notice("job outcome recorded after a retry", metadata: ["job": "\(job.id)"])
                    return
                } catch {
                    if Task.isCancelled || Task.isShuttingDownGracefully { return }
                    delay = min(delay * 2, .seconds(5))
                }
            }
        }
    }

    /// `job` as its run left it, and what its caller is told. A native call cut short by shutdown failed: nobody
    /// asked for it to stop.
    static func end(of job: Job, _ result: JobResult, cancelReason: CancelReason) -> (ended: Job, outcome: JobOutcome) {
        var ended = job
        let outcome: JobOutcome
        switch result.outcome {
        case .succeeded:
            ended.state = .succeeded
            outcome = .succeeded
        case .upstreamError(let message):
            ended.state = .failed
            ended.error = message
            outcome = .upstreamError(message)
        case .interrupted(let message):
            ended.state = .failed
            ended.error = message
            outcome = .interrupted(message)
        case .cancelled:
            ended.state = cancelReason == .shutdown ? .failed : .cancelled
            ended.error = cancelReason.rawValue
            outcome = .cancelled(cancelReason)
        }
        ended.response = ended.state == .succeeded ? result.response : nil
        let finishedAt = Date()
        ended.finishedAt = finishedAt
        // A call the box answered counts, however it ended, with the tokens the box reported; one it never answered
        // (unreachable, or cancelled before the box said anything) does not.
        if !result.transcript.isEmpty {
            let runSeconds = job.startedAt.map { max(0, finishedAt.timeIntervalSince($0)) } ?? 0
            ended.usage = ReportedUsage.of(lines: result.transcript, runSeconds: runSeconds)
        }
        return (ended, outcome)
    }

    /// Records how a native call ended, from `old`: its transition is reported now, its row handed to the store to be
    /// written behind (ADR 0016), and then its caller told, so that a read after the response finds it.
    func recordNative(_ ended: Job, from old: JobState, outcome: JobOutcome) async {
        observer.entered(ended, from: old)
        await store.writeBehind(ended)
        broker.finish(ended.id, outcome)
    }

    /// The artifacts a finished run leaves beside its response (stored in the job's row): for `/jobs` chat and
    /// generate jobs the transcript (native callers already had the stream), the end of it when its earlier parts
    /// were spooled as it streamed.
    static func artifacts(of job: Job, _ result: JobResult) -> [Artifact] {
        guard job.origin == .jobs, job.kind != .embed else { return [] }
        if let spool = result.spool, let artifact = spool.artifact(jobID: job.id) { return [artifact] }
        // No line streamed: the lines kept are an error's body, if anything.
        guard !result.transcript.isEmpty else { return [] }
        var transcript = Data()
        for line in result.transcript { transcript.append(contentsOf: line.readableBytesView) }
        return [Artifact(jobID: job.id, name: Artifact.transcript, contentType: "application/x-ndjson", data: transcript)]
    }
}
