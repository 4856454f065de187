@testable import ForemanEngine
import ForemanTestSupport
import Testing

@Suite("The chat slot read without a visit to the residency (ADR 0026)")
struct ChatSlotRecordTests {
    /// What `Residency.prepareForGeneration` does for `name` with `record`: whether it has anything to do or to
    /// record, and what it returns. Written from the actor's code, step by step.
    private static func visit(_ record: ChatSlotRecord, _ name: String, _ numCtx: (asked: Int?, inheriting: Bool)?, now: ContinuousClock.Instant, trustFor: Duration)
        -> (changes: Bool, added: Int?)
    {
        var recorded = record.numCtx
        var added: Int?
        if let numCtx {
            if numCtx.asked == nil, numCtx.inheriting {
                added = recorded[name] ?? nil
            } else {
                recorded[name] = .some(numCtx.asked)
            }
        }
        let ready = record.model == name && record.verifiedAt.map { now - $0 < trustFor } == true
        return (!ready || recorded != record.numCtx, added)
    }

    @Test("it answers exactly when a visit would change nothing, with what the visit returns, over random records")
    func matchesTheVisit() {
        var random = SplitMix64(state: 7)
        let now = ContinuousClock.now
        let names = ["a:latest", "b:latest", "c:7b"]
        let sizes: [Int?] = [nil, 2048, 8192]
        for _ in 0..<2_000 {
            var record = ChatSlotRecord()
            record.model = random.next() % 4 == 0 ? nil : names[Int(random.next() % 3)]
            record.verifiedAt = random.next() % 4 == 0 ? nil : now - .seconds(Int(random.next() % 60))
            for name in names where random.next() % 2 == 0 { record.numCtx[name] = .some(sizes[Int(random.next() % 3)]) }
            let name = names[Int(random.next() % 3)]
            let numCtx: (asked: Int?, inheriting: Bool)? = random.next() % 4 == 0 ? nil : (sizes[Int(random.next() % 3)], random.next() % 2 == 0)
            let trustFor = Duration.seconds(30)
            let visit = Self.visit(record, name, numCtx, now: now, trustFor: trustFor)
            let read = record.unchanged(name, numCtx: numCtx, now: now, trustFor: trustFor)
            if visit.changes {
                #expect(read == nil, "\(record) \(name) \(String(describing: numCtx))")
            } else {
                #expect(read == .some(visit.added), "\(record) \(name) \(String(describing: numCtx))")
            }
        }
    }

    @Test("a slot never checked, another model's, or a check older than the trust is never ready")
    func notReady() {
        let now = ContinuousClock.now
        let trust = Duration.seconds(30)
        let asIs: Int?? = .some(nil)
        let none: (asked: Int?, inheriting: Bool)? = (nil, false)
        var record = ChatSlotRecord(model: "a:latest", verifiedAt: now - .seconds(10), numCtx: ["a:latest": Int?.none])
        #expect(record.unchanged("a:latest", numCtx: none, now: now, trustFor: trust) == asIs)
        #expect(record.unchanged("b:latest", numCtx: none, now: now, trustFor: trust) == nil)
        #expect(record.unchanged("a:latest", numCtx: none, now: now, trustFor: .seconds(10)) == nil)
        #expect(record.unchanged("a:latest", numCtx: (4096, false), now: now, trustFor: trust) == nil)
        record.verifiedAt = nil
        #expect(record.unchanged("a:latest", numCtx: nil, now: now, trustFor: trust) == nil)
    }
}
