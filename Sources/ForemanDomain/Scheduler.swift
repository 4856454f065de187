import Foundation

/// Chooses the worker's next job: priority, then the keys in turn, then model affinity, then age, with affinity
/// bounded (ADR 0007, ADR 0022).
///
/// Pure: it sees a snapshot of the queue, the chat slot and when each key last started a job, and says which job runs
/// and which it passed over.
public enum Scheduler {
    /// What the scheduler needs to know about one queued job.
    public struct Candidate: Sendable, Equatable {
        public var seq: Int64
        public var model: String
        public var priority: Int
        /// How often the job has been passed over for a job behind it.
        public var skips: Int
        /// When it was first passed over: the moment its turn came.
        public var firstSkippedAt: Date?
        /// The key that submitted it (ADR 0022); `nil` for the bootstrap key.
        public var owner: String?

        public init(seq: Int64, model: String, priority: Int, skips: Int = 0, firstSkippedAt: Date? = nil, owner: String? = nil) {
            self.seq = seq
            self.model = model
            self.priority = priority
            self.skips = skips
            self.firstSkippedAt = firstSkippedAt
            self.owner = owner
        }
    }

    /// The bound on affinity.
    public struct Policy: Sendable, Equatable {
        /// `FOREMAN_MAX_SKIP`: how often one job may be passed over.
        public var maxSkip: Int = 8
        /// `FOREMAN_MAX_AFFINITY_WAIT`: how long past its FIFO turn a job may be kept waiting.
        public var maxAffinityWait: Duration = .seconds(60)
        public init() {}
    }

    /// The choice: the job to run and the jobs it jumps ahead of (their skip counts go up by one).
    public struct Decision: Sendable, Equatable {
        public var chosen: Int64
        public var passedOver: [Int64]

        public init(chosen: Int64, passedOver: [Int64]) {
            self.chosen = chosen
            self.passedOver = passedOver
        }
    }

    /// Whether the oldest job of the top priority is the choice whatever waits behind it: the chat slot is empty or
    /// already holds its model. The store then reads that one job instead of a window of the queue. This holds only
    /// while the top priority has jobs of one key: with more, the fair order's head may be another (ADR 0022).
    public static func headDecides(_ head: Candidate, chatSlot: String?) -> Bool {
        guard let chatSlot else { return true }
        return ModelName.normalized(head.model) == ModelName.normalized(chatSlot)
    }

    /// Decides which of `queue` (in FIFO order) runs next, given the model in the chat slot (tag made explicit,
    /// see ``ModelName``; the candidates' models may be spelled either way) and, for each key, when it last started
    /// a job (a number that grows with every start; a key missing from it has never started one).
    public static func decide(
        queue: [Candidate], chatSlot: String?, now: Date, policy: Policy, lastStarted: [String: Int64] = [:]
    ) -> Decision? {
        guard let top = queue.map(\.priority).max() else { return nil }
        let chatSlot = chatSlot.map(ModelName.normalized)
        let candidates = fairOrder(queue.filter { $0.priority == top }, lastStarted: lastStarted)
        let head = candidates[0]
        guard let chatSlot, ModelName.normalized(head.model) != chatSlot,
            let affinityIndex = candidates.firstIndex(where: { ModelName.normalized($0.model) == chatSlot })
        else {
            return Decision(chosen: head.seq, passedOver: [])
        }
        let ahead = candidates[..<affinityIndex]
        let boundReached = ahead.contains { job in
            job.skips >= policy.maxSkip
                || (job.firstSkippedAt.map { now.timeIntervalSince($0) >= policy.maxAffinityWait.seconds } ?? false)
        }
        if boundReached { return Decision(chosen: head.seq, passedOver: []) }
        return Decision(chosen: candidates[affinityIndex].seq, passedOver: ahead.map(\.seq))
    }

    /// `candidates` (one priority, in FIFO order) in fair order (ADR 0022): each key's jobs in FIFO order, the keys
    /// by when they last started a job (never first, then longest ago, ties to the key with the oldest job), one job
    /// from each key in turn. With one key it is the FIFO order.
    public static func fairOrder(_ candidates: [Candidate], lastStarted: [String: Int64]) -> [Candidate] {
        var jobs: [String: [Candidate]] = [:]
        var keys: [String] = []  // by their oldest job
        for candidate in candidates {
            let key = candidate.owner ?? ""
            if jobs[key] == nil { keys.append(key) }
            jobs[key, default: []].append(candidate)
        }
        guard keys.count > 1 else { return candidates }
        let turns = keys.enumerated().sorted { a, b in
            (lastStarted[a.element] ?? .min, a.offset) < (lastStarted[b.element] ?? .min, b.offset)
        }.map { jobs[$0.element] ?? [] }
        var ordered: [Candidate] = []
        ordered.reserveCapacity(candidates.count)
        for round in 0..<(turns.map(\.count).max() ?? 0) {
            for queue in turns where round < queue.count { ordered.append(queue[round]) }
        }
        return ordered
    }
}
