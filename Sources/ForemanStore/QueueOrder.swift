import ForemanDomain
import GRDB
import NIOCore

/// Every queued job's `seq`, by lane and priority, in order: a queued job's place in O(log n) instead of a count
/// over the jobs ahead of it.
///
/// With 100,000 jobs queued, counting the older jobs of one priority read up to 100,000 index entries: about 10 ms
/// for one job object, half a second for a page of fifty. ``JobStore`` keeps one, read from the table at startup and
/// moved by the same committed state changes as its ``QueueTally``. New jobs take the largest `seq` and claims take
/// the oldest, so both ends of each buffer move in O(1); a cancel or an affinity claim from the middle shifts at
/// most the jobs of one priority.
struct QueueOrder: Sendable {
    private var seqs: [JobLane: [Int: CircularBuffer<Int64>]] = [:]

    /// The queued jobs in `db`.
    static func read(_ db: Database) throws -> QueueOrder {
        var order = QueueOrder()
        let rows = try Row.fetchCursor(db, sql: "SELECT kind, priority, seq FROM job WHERE state = 'queued' ORDER BY seq")
        while let row = try rows.next() {
            guard let kind = JobKind(rawValue: row["kind"]) else { continue }
            order.insert(row["seq"], lane: kind.lane, priority: row["priority"])
        }
        return order
    }

    /// Moves `job` from `old` (nil: new) to its current state.
    mutating func move(_ job: Job, from old: JobState?) {
        guard let seq = job.seq, old != job.state else { return }
        if old == .queued { remove(seq, lane: job.kind.lane, priority: job.priority) }
        if job.state == .queued { insert(seq, lane: job.kind.lane, priority: job.priority) }
    }

    /// The 1-based place of queued job `seq` in its lane: every job of a higher priority and every older one of the
    /// same priority come first (ADR 0007). For a job no longer queued, where it would stand.
    func place(_ seq: Int64, lane: JobLane, priority: Int) -> Int {
        let byPriority = seqs[lane] ?? [:]
        let above = byPriority.reduce(0) { sum, entry in entry.key > priority ? sum + entry.value.count : sum }
        let older = byPriority[priority].map { Self.firstIndex(notBelow: seq, in: $0) } ?? 0
        return above + older + 1
    }

    /// The first `limit` queued jobs of `lane` in their order (higher priorities first, then age), as `seq`s.
    func first(_ limit: Int, lane: JobLane) -> [Int64] {
        var seqs: [Int64] = []
        for (_, buffer) in (self.seqs[lane] ?? [:]).sorted(by: { $0.key > $1.key }) {
            guard seqs.count < limit else { break }
            seqs.append(contentsOf: buffer.prefix(limit - seqs.count))
        }
        return seqs
    }

    private mutating func insert(_ seq: Int64, lane: JobLane, priority: Int) {
        var buffer = seqs[lane, default: [:]].removeValue(forKey: priority) ?? CircularBuffer()
        if let last = buffer.last, last > seq {
            let index = buffer.index(buffer.startIndex, offsetBy: Self.firstIndex(notBelow: seq, in: buffer))
            buffer.insert(seq, at: index)
        } else {
            buffer.append(seq)
        }
        seqs[lane, default: [:]][priority] = buffer
    }

    private mutating func remove(_ seq: Int64, lane: JobLane, priority: Int) {
        guard var buffer = seqs[lane]?.removeValue(forKey: priority) else { return }
        if buffer.first == seq {
            buffer.removeFirst()
        } else {
            let offset = Self.firstIndex(notBelow: seq, in: buffer)
            let index = buffer.index(buffer.startIndex, offsetBy: offset)
            if offset < buffer.count, buffer[index] == seq { buffer.remove(at: index) }
        }
        if !buffer.isEmpty { seqs[lane, default: [:]][priority] = buffer }
    }

    /// How many of the sorted `buffer`'s elements are below `seq`.
    private static func firstIndex(notBelow seq: Int64, in buffer: CircularBuffer<Int64>) -> Int {
        var low = 0
        var high = buffer.count
        while low < high {
            let middle = (low + high) / 2
            if buffer[buffer.index(buffer.startIndex, offsetBy: middle)] < seq { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
