import ForemanDomain
import Foundation
import GRDB

/// How many jobs wait and run in each lane, by priority: queue positions and depths without scanning the queue.
///
/// ``JobStore`` keeps one, read from the table at startup and moved only by committed state changes, so a
/// submission's queue position costs a few dictionary look-ups instead of a count over every queued row
/// (ADR 0010).
struct QueueTally: Sendable, Equatable {
    /// Queued jobs per lane and priority.
    private var queued: [JobLane: [Int: Int]] = [:]
    /// Running jobs per lane.
    private var running: [JobLane: Int] = [:]
    /// Queued jobs per lane and owner (`nil`: the bootstrap token's); an owner with none is removed.
    private var queuedByOwner: [JobLane: [String?: Int]] = [:]

    /// Every queued job, both lanes.
    private(set) var totalQueued = 0
    /// The queued jobs of batches (ADR 0020), which admission does not count.
    private(set) var batchQueued = 0

    /// The queued jobs `FOREMAN_MAX_QUEUE` bounds: all but batches'.
    var admissionQueued: Int { totalQueued - batchQueued }

    /// The tally of the jobs in `db`.
    static func read(_ db: Database) throws -> QueueTally {
        var tally = QueueTally()
        let rows = try Row.fetchAll(
            db, sql: """
                SELECT kind, state, priority, origin = 'batch' AS batch, owner, COUNT(*) AS n FROM job WHERE state IN ('queued', 'running')
                GROUP BY kind, state, priority, origin = 'batch', owner
                """
        )
        for row in rows {
            guard let kind = JobKind(rawValue: row["kind"]), let state = JobState(rawValue: row["state"]) else { continue }
            tally.add(state, lane: kind.lane, priority: row["priority"], batch: row["batch"], owner: row["owner"], count: row["n"])
        }
        return tally
    }

    /// Moves one job from `old` (nil: it is new) to its current state.
    mutating func move(_ job: Job, from old: JobState?) {
        let batch = job.origin == .batch
        if let old { add(old, lane: job.kind.lane, priority: job.priority, batch: batch, owner: job.owner, count: -1) }
        add(job.state, lane: job.kind.lane, priority: job.priority, batch: batch, owner: job.owner, count: 1)
    }

    private mutating func add(_ state: JobState, lane: JobLane, priority: Int, batch: Bool, owner: String?, count: Int) {
        switch state {
        case .queued:
            queued[lane, default: [:]][priority, default: 0] += count
            totalQueued += count
            if batch { batchQueued += count }
            let owned = queuedByOwner[lane, default: [:]][owner, default: 0] + count
            queuedByOwner[lane, default: [:]][owner] = owned == 0 ? nil : owned
        case .running:
            running[lane, default: 0] += count
        case .succeeded, .failed, .cancelled:
            break
        }
    }

    /// The 1-based place of the newest queued job of `lane` at `priority`: every job of a higher priority and
    /// every older one of the same priority come first (ADR 0007).
    func placeOfNewest(lane: JobLane, priority: Int) -> Int {
        queuedAbove(lane: lane, priority: priority) + queued[lane, default: [:]][priority, default: 0]
    }

    /// Queued jobs of `lane` with a priority above `priority`.
    func queuedAbove(lane: JobLane, priority: Int) -> Int {
        queued[lane, default: [:]].reduce(0) { sum, entry in entry.key > priority ? sum + entry.value : sum }
    }

    /// Queued jobs of `lane`, all priorities.
    func queued(in lane: JobLane) -> Int {
        queued[lane, default: [:]].values.reduce(0, +)
    }

    /// The highest priority of a job queued in `lane`, or `nil` when none is.
    func highestQueuedPriority(in lane: JobLane) -> Int? {
        queued[lane, default: [:]].filter { $0.value > 0 }.keys.max()
    }

    /// How many owners have jobs queued in `lane`: with fewer than two, no key has another to take turns with.
    func queuedOwners(in lane: JobLane) -> Int {
        queuedByOwner[lane]?.count ?? 0
    }

    /// Jobs running in `lane`.
    func running(in lane: JobLane) -> Int { running[lane, default: 0] }
}
