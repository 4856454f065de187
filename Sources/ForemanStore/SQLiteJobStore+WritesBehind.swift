import ForemanDomain
import Foundation
import GRDB

/// Native jobs' rows, written behind their calls (ADR 0016): a call hands its job over as it starts and as it ends,
/// and returns at once; the rows are committed in batches, off every call's path, whenever the writer is free.
extension SQLiteJobStore {
    /// Takes native job `job` as it stands now, to be written behind. Its transitions were reported when they
    /// happened, so the commit reports none.
    public func writeBehind(_ job: Job) {
        precondition(job.origin.isInteractive, "only native jobs are written behind")
        behind.append(job)
        behindHanded()
    }

    /// Commits every job handed to ``writeBehind(_:)`` so far, one transaction per batch, at deferred durability.
    /// Returns once none is left; a batch that fails stays to be written, and the error is thrown.
    public func flushWritesBehind() async throws {
        while true {
            if flushingBehind {
                await withCheckedContinuation { behindFlushWaiters.append($0) }
                continue
            }
            guard !behind.isEmpty || !usageBehind.isEmpty else { return }
            flushingBehind = true
            let batch = behind
            let usage = usageBehind
            behind.removeAll()
            usageBehind.removeAll()
            defer {
                flushingBehind = false
                let waiters = behindFlushWaiters
                behindFlushWaiters.removeAll()
                for waiter in waiters { waiter.resume() }
            }
            let pool = self.pool
            let view = self.view
            let standing = writerStanding
            do {
                // Always on the writer's queue: this actor stays free for the submissions meanwhile.
                _ = try await writer.around {
                    try await pool.writeWithoutTransaction { db in
                        try Self.commit(db, .deferred, standing, view) { db, _ in
                            for job in batch { try job.upsertRow(db) }
                            // One statement per key, model and day, however many calls the batch holds.
                            for row in UsageRow.summed(batch.compactMap(UsageRow.init(of:)) + usage) { try Self.add(db, row) }
                        }
                    }
                }
            } catch {
                behind = batch + behind
                usageBehind = usage + usageBehind
                noteWriteFailed(error)
                throw error
            }
            noteWriteSucceeded()
            for job in batch where job.state == .succeeded {
                if let startedAt = job.startedAt, let finishedAt = job.finishedAt {
                    runTimes.add(finishedAt.timeIntervalSince(startedAt), kind: job.kind)
                }
            }
        }
    }

    /// Commits what was handed over before a read, so that a caller who reads its own call after the response
    /// finds it. A failed commit is logged by the flush; the read then answers without those rows.
    func settleWritesBehind() async {
        guard !behind.isEmpty || !usageBehind.isEmpty || flushingBehind else { return }
        try? await flushWritesBehind()
    }

    /// Queued jobs of `lane` with a priority above `priority`.
    public func queuedAbove(priority: Int, in lane: JobLane) -> Int {
        tally.queuedAbove(lane: lane, priority: priority)
    }
}
