import ForemanEngine
import ForemanDomain
import ForemanTestSupport
import Foundation
import Testing


@Suite("Scheduler policy")
struct SchedulerTests {
    typealias Candidate = Scheduler.Candidate
    let start = Date(timeIntervalSince1970: 1_000_000)

    @Test("an empty queue has no next job")
    func empty() {
        #expect(Scheduler.decide(queue: [], chatSlot: "a", now: start, policy: .init()) == nil)
    }

    @Test("priority first, then affinity, then age")
    func order() {
        let queue = [
            Candidate(seq: 1, model: "b", priority: 0), Candidate(seq: 2, model: "a", priority: 0),
            Candidate(seq: 3, model: "c", priority: 10), Candidate(seq: 4, model: "a", priority: 10),
        ]
        // Highest priority wins even though "a" is resident: affinity only works within the top tier.
        let decision = Scheduler.decide(queue: queue, chatSlot: "a", now: start, policy: .init())
        #expect(decision == .init(chosen: 4, passedOver: [3]))
        #expect(Scheduler.decide(queue: queue, chatSlot: "c", now: start, policy: .init()) == .init(chosen: 3, passedOver: []))
        #expect(Scheduler.decide(queue: queue, chatSlot: nil, now: start, policy: .init()) == .init(chosen: 3, passedOver: []))
        let lowTier = Array(queue.prefix(2))
        #expect(Scheduler.decide(queue: lowTier, chatSlot: "a", now: start, policy: .init()) == .init(chosen: 2, passedOver: [1]))
        #expect(Scheduler.decide(queue: lowTier, chatSlot: "z", now: start, policy: .init()) == .init(chosen: 1, passedOver: []))
    }

    @Test("the skip bound and the wait bound each stop affinity")
    func bounds() {
        var policy = Scheduler.Policy()
        policy.maxSkip = 2
        policy.maxAffinityWait = .seconds(30)
        let fresh = [Candidate(seq: 1, model: "b", priority: 0), Candidate(seq: 2, model: "a", priority: 0)]
        #expect(Scheduler.decide(queue: fresh, chatSlot: "a", now: start, policy: policy)?.chosen == 2)
        var skipped = fresh
        skipped[0].skips = 2
        #expect(Scheduler.decide(queue: skipped, chatSlot: "a", now: start, policy: policy)?.chosen == 1)
        var waited = fresh
        waited[0].skips = 1
        waited[0].firstSkippedAt = start
        #expect(Scheduler.decide(queue: waited, chatSlot: "a", now: start.addingTimeInterval(29), policy: policy)?.chosen == 2)
        #expect(Scheduler.decide(queue: waited, chatSlot: "a", now: start.addingTimeInterval(30), policy: policy)?.chosen == 1)
    }

    /// Drains `queue` (plus random arrivals) one decision at a time, checking the policy's promises at each step.
    /// Returns the number of model loads.
    @discardableResult
    func drain(
        _ initial: [Candidate],
        policy: Scheduler.Policy,
        arrivals: Int = 0,
        rng: inout SplitMix64,
        models: [String],
        useScheduler: Bool = true
    ) -> Int {
        var queue = initial
        var nextSeq = (queue.map(\.seq).max() ?? 0) + 1
        var slot: String?
        var now = start
        var loads = 0
        var arrivalsLeft = arrivals
        while !queue.isEmpty {
            let decision: Scheduler.Decision
            if useScheduler {
                decision = Scheduler.decide(queue: queue, chatSlot: slot, now: now, policy: policy)!
            } else {
                decision = .init(chosen: queue[0].seq, passedOver: [])
            }
            let chosen = queue.first { $0.seq == decision.chosen }!
            let top = queue.map(\.priority).max()!
            if useScheduler {
                #expect(chosen.priority == top, "never below the top priority")
                let topTier = queue.filter { $0.priority == top }
                if let slot, chosen.model != slot, topTier.contains(where: { $0.model == slot }) {
                    // Affinity was refused: only the bound may refuse it.
                    let ahead = topTier.prefix { $0.model != slot }
                    #expect(ahead.contains { $0.skips >= policy.maxSkip || ($0.firstSkippedAt.map { now.timeIntervalSince($0) >= policy.maxAffinityWait.seconds } ?? false) })
                }
            }
            for seq in decision.passedOver {
                let index = queue.firstIndex { $0.seq == seq }!
                #expect(queue[index].priority == top && seq < chosen.seq)
                #expect(queue[index].skips < policy.maxSkip, "passed over more than maxSkip times")
                if let first = queue[index].firstSkippedAt {
                    #expect(now.timeIntervalSince(first) < policy.maxAffinityWait.seconds, "kept waiting past the bound")
                }
                queue[index].skips += 1
                if queue[index].firstSkippedAt == nil { queue[index].firstSkippedAt = now }
            }
            queue.removeAll { $0.seq == chosen.seq }
            if slot != chosen.model { loads += 1 }
            slot = chosen.model
            now = now.addingTimeInterval(Double(Int.random(in: 1...20, using: &rng)))
            if arrivalsLeft > 0, Bool.random(using: &rng) {
                let count = Int.random(in: 1...3, using: &rng)
                for _ in 0..<min(count, arrivalsLeft) {
                    queue.append(Candidate(seq: nextSeq, model: models.randomElement(using: &rng)!, priority: [0, 0, 0, 10].randomElement(using: &rng)!))
                    nextSeq += 1
                }
                arrivalsLeft -= min(count, arrivalsLeft)
            }
        }
        return loads
    }

    @Test("random queues: the bounds hold, priority is never inverted, affinity is refused only by the bound", arguments: 0..<200)
    func randomQueues(seed: Int) {
        var rng = SplitMix64(state: UInt64(seed))
        let models = ["a", "b", "c", "d"].prefix(Int.random(in: 1...4, using: &rng)).map { $0 }
        var policy = Scheduler.Policy()
        policy.maxSkip = Int.random(in: 0...10, using: &rng)
        policy.maxAffinityWait = .seconds(Int.random(in: 1...120, using: &rng))
        let queue = (1...Int.random(in: 1...40, using: &rng)).map { seq in
            Candidate(seq: Int64(seq), model: models.randomElement(using: &rng)!, priority: [0, 0, 10].randomElement(using: &rng)!)
        }
        drain(queue, policy: policy, arrivals: Int.random(in: 0...30, using: &rng), rng: &rng, models: models)
    }

    @Test("when the head decides, the choice from the head alone is the choice from the whole queue", arguments: 0..<300)
    func headDecides(seed: Int) {
        var rng = SplitMix64(state: UInt64(seed) &+ 7)
        let models = ["a", "b:latest", "b", "c"]
        let now = Date(timeIntervalSince1970: 1_000_000)
        var policy = Scheduler.Policy()
        policy.maxSkip = Int.random(in: 0...4, using: &rng)
        let queue = (1...Int.random(in: 1...30, using: &rng)).map { seq in
            Candidate(
                seq: Int64(seq), model: models.randomElement(using: &rng)!, priority: 0, skips: Int.random(in: 0...5, using: &rng),
                firstSkippedAt: Bool.random(using: &rng) ? now.addingTimeInterval(-Double.random(in: 0...120, using: &rng)) : nil
            )
        }
        let slot: String? = Bool.random(using: &rng) ? models.randomElement(using: &rng) : nil
        let whole = Scheduler.decide(queue: queue, chatSlot: slot, now: now, policy: policy)
        if Scheduler.headDecides(queue[0], chatSlot: slot) {
            #expect(Scheduler.decide(queue: [queue[0]], chatSlot: slot, now: now, policy: policy) == whole)
        } else {
            #expect(whole?.chosen != queue[0].seq || whole?.passedOver.isEmpty == true)
        }
    }

    @Test("a cyclic batch over three models: one load per model without a bound, never more loads than FIFO with one")
    func cyclicBatch() {
        let models = ["a", "b", "c"]
        let batch = (1...60).map { Candidate(seq: Int64($0), model: models[($0 - 1) % 3], priority: 0) }
        var rng = SplitMix64(state: 42)
        var unbounded = Scheduler.Policy()
        unbounded.maxSkip = .max
        unbounded.maxAffinityWait = .seconds(1_000_000_000)
        #expect(drain(batch, policy: unbounded, rng: &rng, models: models) == 3)
        let fifo = drain(batch, policy: .init(), rng: &rng, models: models, useScheduler: false)
        #expect(fifo == 60)
        #expect(drain(batch, policy: .init(), rng: &rng, models: models) < fifo)
    }

    // MARK: Fair share (ADR 0022)

    @Test("fair order: keys by their last start (never first), one job from each in turn, each key's jobs in FIFO order")
    func fairOrder() {
        let queue = [
            Candidate(seq: 1, model: "m", priority: 0, owner: "a"), Candidate(seq: 2, model: "m", priority: 0, owner: "a"),
            Candidate(seq: 3, model: "m", priority: 0, owner: "a"), Candidate(seq: 4, model: "m", priority: 0, owner: "b"),
            Candidate(seq: 5, model: "m", priority: 0, owner: "c"), Candidate(seq: 6, model: "m", priority: 0, owner: "c"),
        ]
        let order = Scheduler.fairOrder(queue, lastStarted: ["a": 10, "c": 5]).map(\.seq)
        #expect(order == [4, 5, 1, 6, 2, 3])
        // Never-started keys go by their oldest job; so do keys tied on their last start.
        #expect(Scheduler.fairOrder(queue, lastStarted: [:]).map(\.seq) == [1, 4, 5, 2, 6, 3])
        #expect(Scheduler.fairOrder(queue, lastStarted: ["a": 3, "b": 3, "c": 3]).map(\.seq) == [1, 4, 5, 2, 6, 3])
        // The head of the fair order runs, and affinity passes over jobs in that order.
        #expect(Scheduler.decide(queue: queue, chatSlot: nil, now: start, policy: .init(), lastStarted: ["a": 10, "c": 5])?.chosen == 4)
        var mixed = queue
        mixed[4].model = "other"
        // c, b, a: c's first job ("other") heads the order, and b's first passes it for the resident model.
        #expect(Scheduler.decide(queue: mixed, chatSlot: "m", now: start, policy: .init(), lastStarted: ["a": 10, "c": 5, "b": 7]) == .init(chosen: 4, passedOver: [5]))
    }

    @Test("one key, or none: the fair order is the FIFO order, and every decision is ADR 0007's", arguments: 0..<100)
    func oneKeyIsFIFO(seed: Int) {
        var rng = SplitMix64(state: UInt64(seed))
        let owner = ["a", nil].randomElement(using: &rng)!
        let queue = (1...Int.random(in: 1...30, using: &rng)).map { seq in
            Candidate(seq: Int64(seq), model: ["a", "b", "c"].randomElement(using: &rng)!, priority: 0, skips: Int.random(in: 0...3, using: &rng), owner: owner)
        }
        #expect(Scheduler.fairOrder(queue, lastStarted: ["a": Int64.random(in: 0...9, using: &rng)]) == queue)
        let anonymous = queue.map { Candidate(seq: $0.seq, model: $0.model, priority: $0.priority, skips: $0.skips) }
        for slot in [nil, "a", "b", "z"] {
            #expect(Scheduler.decide(queue: queue, chatSlot: slot, now: start, policy: .init(), lastStarted: ["a": 4])
                == Scheduler.decide(queue: anonymous, chatSlot: slot, now: start, policy: .init()))
        }
    }

    /// Drains `queue` (one priority) with the keys taking turns, as the store will: each start records its key's
    /// turn and the chat slot's model. `arrival` joins the queue after `after` starts. Returns, for each job, how
    /// many jobs started before it.
    func fairDrain(
        _ initial: [Candidate], policy: Scheduler.Policy, arrival: (after: Int, job: Candidate)? = nil, rng: inout SplitMix64
    ) -> [Int64: Int] {
        var queue = initial
        var lastStarted: [String: Int64] = [:]
        var slot: String? = ["a", "b", nil].randomElement(using: &rng)!
        var startedBefore: [Int64: Int] = [:]
        var starts = 0
        while !queue.isEmpty || (arrival.map { startedBefore[$0.job.seq] == nil } ?? false) {
            if let arrival, starts == arrival.after, !queue.contains(where: { $0.seq == arrival.job.seq }), startedBefore[arrival.job.seq] == nil {
                queue.append(arrival.job)
            }
            guard let decision = Scheduler.decide(queue: queue, chatSlot: slot, now: start, policy: policy, lastStarted: lastStarted),
                let chosen = queue.first(where: { $0.seq == decision.chosen })
            else { break }
            for seq in decision.passedOver {
                guard let index = queue.firstIndex(where: { $0.seq == seq }) else { continue }
                queue[index].skips += 1
                if queue[index].firstSkippedAt == nil { queue[index].firstSkippedAt = start }
            }
            startedBefore[chosen.seq] = starts
            starts += 1
            lastStarted[chosen.owner ?? ""] = Int64(starts)
            slot = chosen.model
            queue.removeAll { $0.seq == chosen.seq }
        }
        return startedBefore
    }

    @Test("random queues of up to five keys: each key starts a job after at most k − 1 others by turn, plus the skip bound", arguments: 0..<200)
    func fairBound(seed: Int) {
        var rng = SplitMix64(state: UInt64(seed))
        var policy = Scheduler.Policy()
        policy.maxSkip = Int.random(in: 0...6, using: &rng)
        let keys = ["k1", "k2", "k3", "k4", "k5"].prefix(Int.random(in: 1...5, using: &rng))
        let queue = (1...Int.random(in: 1...60, using: &rng)).map { seq in
            Candidate(seq: Int64(seq), model: ["a", "b", "c"].randomElement(using: &rng)!, priority: 0, owner: keys.randomElement(using: &rng)!)
        }
        let started = fairDrain(queue, policy: policy, rng: &rng)
        // Per key: within a key, affinity may run a later job of its own first (ADR 0007's bounds hold for that).
        let present = Set(queue.compactMap(\.owner))
        for key in present {
            let first = queue.filter { $0.owner == key }.compactMap { started[$0.seq] }.min() ?? .max
            #expect(first <= present.count - 1 + policy.maxSkip, "key \(key): \(first) starts before its first")
        }
        #expect(started.count == queue.count, "every job ran")
    }

    @Test("the issue's case: key A queues 200 jobs, key B then queues 1; B's job starts within 1 + the skip bound, not after A's 200", arguments: 0..<50)
    func oneJobBehindTwoHundred(seed: Int) {
        var rng = SplitMix64(state: UInt64(seed))
        var policy = Scheduler.Policy()
        policy.maxSkip = Int.random(in: 0...8, using: &rng)
        let queue = (1...200).map { seq in Candidate(seq: Int64(seq), model: ["a", "b"].randomElement(using: &rng)!, priority: 0, owner: "A") }
        let after = Int.random(in: 0...20, using: &rng)
        let single = Candidate(seq: 201, model: ["a", "b", "c"].randomElement(using: &rng)!, priority: 0, owner: "B")
        let started = fairDrain(queue, policy: policy, arrival: (after, single), rng: &rng)
        let waited = (started[201] ?? .max) - after
        // k = 2: one start by turn (when A has not started one yet either), and the skip bound.
        #expect(waited <= 1 + policy.maxSkip, "B's job waited \(waited) starts with maxSkip \(policy.maxSkip), after \(after)")
    }
}
