import FakeOllama
import ForemanDomain
import ForemanTestSupport
import Foundation
import Testing

extension ServerTests {
    /// The invariants ADR 0014 makes structural, under random interleavings of everything a caller can do.
    @Suite("Interleavings")
    struct InterleavingTests {
        /// One thing a caller does.
        enum Step: CaseIterable {
            case nativeChat, nativeStream, nativeHangUp, jobsChat, jobsCancel, embed
        }

        @Test("whatever callers do at once, the target never runs two generations and every job ends exactly once", arguments: [1, 2, 3] as [UInt64])
        func oneGenerationAndOneEnd(seed: UInt64) async throws {
            let receiver = WebhookReceiver()
            try await withRunningService({ await receiver.app(onServerRunning: $0) }) { hookPort in
                let hook = #","state_webhook_url":"http://127.0.0.1:"# + String(hookPort) + #"/hook""#
                try await Harness.run(fake: FakeOllamaState(tokenDelay: .milliseconds(1))) { harness in
                    var random = SplitMix64(state: seed)
                    let steps = (0..<48).map { _ in Step.allCases[Int(random.next() % UInt64(Step.allCases.count))] }
                    let pauses = (0..<48).map { _ in Int(random.next() % 6) }
                    let jobIDs = try await withThrowingTaskGroup(of: String?.self) { group in
                        for (index, step) in steps.enumerated() {
                            let pause = pauses[index]
                            group.addTask {
                                try await Task.sleep(for: .milliseconds(pause))  // spreads the arrivals, no signal awaited
                                return try await Self.perform(step, harness: harness, hook: hook, tokens: 1 + pause)
                            }
                        }
                        return try await group.reduce(into: [String]()) { if let id = $1 { $0.append(id) } }
                    }
                    try await harness.waitForQueueDepth(0)
                    try await eventually("nothing running") { try await harness.health()["running_job"] is NSNull }

                    #expect(await harness.fake.maxConcurrentGenerations == 1)
                    // Every job foreman knows of is in a terminal state; each /jobs job's webhooks name one end.
                    let listed = try await harness.request(.GET, "/jobs?limit=200").jsonObject()["jobs"] as? [[String: Any]] ?? []
                    #expect(listed.count >= jobIDs.count)
                    for job in listed {
                        let state = (job["state"] as? String).flatMap(JobState.init(rawValue:))
                        #expect(state?.isTerminal == true, "\(job["id"] ?? "?") is \(job["state"] ?? "?")")
                    }
                    try await eventually("every /jobs job's last webhook") {
                        let ended = Set(await receiver.accepted.filter { ["succeeded", "failed", "cancelled"].contains($0.state) }.compactMap(\.jobID))
                        return ended.isSuperset(of: jobIDs)
                    }
                    var ends: [String: Set<String>] = [:]
                    var seen = Set<String>()
                    for delivery in await receiver.accepted where seen.insert(delivery.id).inserted {
                        guard let state = delivery.state, ["succeeded", "failed", "cancelled"].contains(state) else { continue }
                        ends[delivery.jobID ?? "", default: []].insert(delivery.id)
                    }
                    for id in jobIDs { #expect(ends[id]?.count == 1, "\(id) ended \(ends[id]?.count ?? 0) times") }
                }
            }
        }

        /// Does `step`; returns the id of a `/jobs` job it submitted.
        static func perform(_ step: Step, harness: Harness, hook: String, tokens: Int) async throws -> String? {
            switch step {
            case .nativeChat:
                _ = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: tokens))
            case .nativeStream:
                _ = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(tokens: tokens))
            case .nativeHangUp:
                let call = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(tokens: 20)) }
                try await Task.sleep(for: .milliseconds(tokens))
                call.cancel()
                _ = await call.result
            case .embed:
                _ = try await harness.request(.POST, "/api/embed", json: #"{"model":"nomic-embed-text","input":"hi"}"#)
            case .jobsChat, .jobsCancel:
                let submitted = try await harness.submit(request: Harness.chatBody(tokens: tokens), extra: hook)
                let id = try #require(try submitted.jsonObject()["id"] as? String)
                if step == .jobsCancel { _ = try await harness.request(.DELETE, "/jobs/\(id)") }
                return id
            }
            return nil
        }
    }
}
