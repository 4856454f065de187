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
}
