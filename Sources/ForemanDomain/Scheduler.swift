import Foundation

/// Chooses the worker's next job: priority, then model affinity, then age, with affinity bounded (ADR 0007).
///
/// Pure: it sees a snapshot of the queue and the chat slot, and says which job runs and which it passed over.
public enum Scheduler {
    /// What the scheduler needs to know about one queued job.
    public struct Candidate: Sendable, Equatable {
        public var seq: Int64
        public var model: String
        public var priority: Int
        /// How often the job has been passed over for a job behind it.
        public var skips: Int
        /// When it was first passed over: the moment FIFO would have run it.
        public var firstSkippedAt: Date?

        public init(seq: Int64, model: String, priority: Int, skips: Int = 0, firstSkippedAt: Date? = nil) {
            self.seq = seq
            self.model = model
            self.priority = priority
            self.skips = skips
            self.firstSkippedAt = firstSkippedAt
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
    /// already holds its model. The store then reads that one job instead of a window of the queue.
    public static func headDecides(_ head: Candidate, chatSlot: String?) -> Bool {
        guard let chatSlot else { return true }
        return ModelName.normalized(head.model) == ModelName.normalized(chatSlot)
    }

    /// Decides which of `queue` (in FIFO order) runs next, given the model in the chat slot (tag made explicit,
    /// see ``ModelName``; the candidates' models may be spelled either way).
    public static func decide(queue: [Candidate], chatSlot: String?, now: Date, policy: Policy) -> Decision? {
        guard let top = queue.map(\.priority).max() else { return nil }
        let chatSlot = chatSlot.map(ModelName.normalized)
        let candidates = queue.filter { $0.priority == top }
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
}
