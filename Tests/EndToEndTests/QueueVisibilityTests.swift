import ForemanTestSupport
import Foundation
import Testing

extension ServerTests {
    /// Why a caller waits (ADR 0023): `GET /queue`, and the probes beside `/healthz`.
    @Suite("Queue visibility and probes")
    struct QueueVisibilityTests {
        @Test("GET /queue: the running job, then what waits in the order it is to run (native calls, then by priority and age), with places")
        func queueInOrder() async throws {
            try await Harness.run { harness in
                func job(_ content: String, priority: Int) -> String {
                    #"{"kind":"chat","priority":"# + String(priority)
                        + #","request":{"model":"llama3.2","messages":[{"role":"user","content":""# + content + #""}],"options":{"num_predict":2}}}"#
                }
                await harness.fake.pause()
                let running = try #require(try await harness.request(.POST, "/jobs", json: job("a", priority: 0)).jsonObject()["id"] as? String)
                await harness.fake.waitForGenerations(1)
                let low = try #require(try await harness.request(.POST, "/jobs", json: job("b", priority: 0)).jsonObject()["id"] as? String)
                let high = try #require(try await harness.request(.POST, "/jobs", json: job("c", priority: 5)).jsonObject()["id"] as? String)
                let native = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2, content: "n")) }
                try await harness.waitForQueueDepth(3)

                let queue = try await harness.request(.GET, "/queue")
                try #require(queue.status == 200, "\(queue.body)")
                let object = try queue.jsonObject()
                let line = try #require((object["providers"] as? [[String: Any]])?.first, "\(object)")
                #expect(line["provider"] as? String == "default")
                #expect((line["running"] as? [[String: Any]])?.map { $0["id"] as? String } == [running], "\(line)")
                let queued = line["queued"] as? [[String: Any]] ?? []
                #expect(queued.count == 3 && queued.first?["origin"] as? String == "api", "the native call, priority 10, is next: \(queued)")
                #expect(queued.dropFirst().map { $0["id"] as? String } == [high, low], "\(queued)")
                #expect(queued.allSatisfy { ($0["queue_position"] as? Int ?? 0) > 0 && $0["state"] as? String == "queued" }, "\(queued)")
                #expect(object["queue_depth"] as? Int == 3)
                #expect(try await harness.request(.GET, "/queue?limit=1").jsonObject().description.contains(high) == false, "the limit holds")
                #expect(try await harness.request(.GET, "/queue?limit=0").status == 400)

                await harness.fake.resume()
                #expect(try await native.value.status == 200)
            }
        }

        @Test("a key sees its own work in the queue, the admin sees all; a key without the jobs scope gets 403")
        func queuePerKey() async throws {
            try await Harness.run { harness in
                let alice = try await KeysTests.create(harness, "alice", ["jobs"])
                let bob = try await KeysTests.create(harness, "bob", ["jobs"])
                let reader = try await KeysTests.create(harness, "reader", ["inference"])
                let job = #"{"kind":"chat","request":{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":2}}}"#
                await harness.fake.pause()
                let first = try #require(try await harness.request(.POST, "/jobs", json: job, token: .some(alice.secret)).jsonObject()["id"] as? String)
                await harness.fake.waitForGenerations(1)
                let second = try #require(try await harness.request(.POST, "/jobs", json: job, token: .some(bob.secret)).jsonObject()["id"] as? String)
                func ids(_ token: String?) async throws -> [String] {
                    let line = (try await harness.request(.GET, "/queue", token: .some(token)).jsonObject()["providers"] as? [[String: Any]])?.first ?? [:]
                    return ((line["running"] as? [[String: Any]] ?? []) + (line["queued"] as? [[String: Any]] ?? [])).compactMap { $0["id"] as? String }
                }
                #expect(try await ids(alice.secret) == [first])
                #expect(try await ids(bob.secret) == [second])
                #expect(try await ids("secret") == [first, second])
                #expect(try await harness.request(.GET, "/queue", token: .some(reader.secret)).status == 403)
                await harness.fake.resume()
            }
        }

        @Test("/livez and /readyz answer without a token: alive, and ready for work")
        func probes() async throws {
            try await Harness.run { harness in
                let live = try await harness.request(.GET, "/livez", token: .some(nil))
                #expect(live.status == 200 && live.body == #"{"status":"ok"}"#)
                let ready = try await harness.request(.GET, "/readyz", token: .some(nil))
                #expect(ready.status == 200 && ready.body == #"{"status":"ready"}"#)
                // Readiness does not follow the boxes: durable work is still taken while a box is away.
                #expect(try await harness.request(.POST, "/readyz", token: .some(nil)).status == 405)
            }
        }
    }
}
