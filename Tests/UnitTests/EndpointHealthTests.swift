import ForemanDomain
import Foundation
import Testing

/// The rest a failing webhook endpoint gets (ADR 0015).
@Suite("Webhook endpoint health")
struct EndpointHealthTests {
    let start = Date(timeIntervalSince1970: 1_000_000)
    /// Rest lengths of 1, 2, 4… seconds for 1, 2, 3… failures in a row.
    let rest: (Int) -> Duration = { .seconds(1 << ($0 - 1)) }

    @Test("a healthy endpoint takes the full allowance; a failure rests it; after the rest one probe; a success opens it")
    func cycle() {
        var health = EndpointHealth()
        #expect(health.allowance(at: start, full: 4) == 4)
        health.failed(at: start, rest: rest)
        #expect(health.allowance(at: start, full: 4) == 0)
        #expect(health.allowance(at: start.addingTimeInterval(0.999), full: 4) == 0)
        #expect(health.allowance(at: start.addingTimeInterval(1), full: 4) == 1)
        health.failed(at: start.addingTimeInterval(1), rest: rest)
        #expect(health.consecutiveFailures == 2)
        #expect(health.allowance(at: start.addingTimeInterval(2.999), full: 4) == 0)
        #expect(health.allowance(at: start.addingTimeInterval(3), full: 4) == 1)
        health.succeeded()
        #expect(health == EndpointHealth())
        #expect(health.allowance(at: start.addingTimeInterval(3), full: 4) == 4)
    }

    @Test("failures of attempts already under way when a rest began do not lengthen it")
    func oneOutageIsOneFailure() {
        var health = EndpointHealth()
        for offset in [0, 0.1, 0.5, 0.9] { health.failed(at: start.addingTimeInterval(offset), rest: rest) }
        #expect(health.consecutiveFailures == 1)
        #expect(health.restingUntil == start.addingTimeInterval(1))
    }

    @Test("rests grow with failures in a row, whatever the interleaving of successes before them", arguments: 1...6)
    func restsGrow(failures: Int) {
        var health = EndpointHealth()
        health.failed(at: start, rest: rest)
        health.succeeded()
        var now = start
        for _ in 0..<failures {
            now = health.restingUntil ?? now
            health.failed(at: now, rest: rest)
        }
        #expect(health.consecutiveFailures == failures)
        #expect(health.restingUntil == now.addingTimeInterval(rest(failures).seconds))
    }
}
