import ForemanTestSupport
import Foundation
import Testing

extension ServerTests {
    /// A key's limits (ADR 0022): requests per minute answered 429 with `Retry-After` in each surface's shape, and the
    /// priority ceiling.
    @Suite("Keys: limits")
    struct KeyLimitsTests {
        @Test("over its requests per minute a key gets 429 with Retry-After, in Ollama's shape on /api and OpenAI's on /v1")
        func requestsPerMinute() async throws {
            try await Harness.run { harness in
                let created = try await harness.request(.POST, "/admin/keys", json: #"{"name":"rate","scopes":["inference"],"requests_per_minute":2}"#)
                let object = try created.jsonObject()
                let (id, secret) = (try #require(object["id"] as? String), try #require(object["secret"] as? String))
                for _ in 0..<2 { #expect(try await harness.request(.POST, "/api/chat", json: KeysTests.chat, token: .some(secret)).status == 200) }
                // The two are spent: a minute's allowance refills one every 30 s.
                let native = try await harness.request(.POST, "/api/chat", json: KeysTests.chat, token: .some(secret))
                let wait = Int(native.headers.first(name: "Retry-After") ?? "") ?? 0
                #expect(native.status == 429 && (1...30).contains(wait) && native.error?.contains("2 requests a minute") == true, "\(native.body)")
                let openAI = try await harness.request(.POST, "/v1/chat/completions", json: KeysTests.chat, token: .some(secret))
                let shape = try openAI.jsonObject()["error"] as? [String: Any]
                #expect(openAI.status == 429 && openAI.headers.first(name: "Retry-After") != nil && shape?["message"] is String, "\(openAI.body)")
                // Reads are not counted.
                #expect(try await harness.request(.GET, "/api/tags", token: .some(secret)).status == 200)
                // A new limit starts with a full allowance.
                #expect(try await harness.request(.PATCH, "/admin/keys/\(id)", json: #"{"requests_per_minute":100}"#).status == 200)
                #expect(try await harness.request(.POST, "/api/chat", json: KeysTests.chat, token: .some(secret)).status == 200)
            }
        }

        @Test("a job asking for more than its key's priority ceiling is kept at the ceiling")
        func priorityCeiling() async throws {
            try await Harness.run { harness in
                let created = try await harness.request(.POST, "/admin/keys", json: #"{"name":"low","scopes":["jobs"],"priority_ceiling":0}"#)
                let secret = try #require(try created.jsonObject()["secret"] as? String)
                let body = #"{"kind":"chat","priority":50,"request":"# + KeysTests.chat + "}"
                let submitted = try await harness.request(.POST, "/jobs", json: body, token: .some(secret))
                let priority = try submitted.jsonObject()["priority"] as? Int
                #expect(submitted.status == 202 && priority == 0, "\(submitted.body)")
                let admin = try await harness.request(.POST, "/jobs", json: body)
                #expect(try admin.jsonObject()["priority"] as? Int == 50, "the bootstrap key has no ceiling")
            }
        }

        @Test("fair share: key A queues 200 jobs, then key B queues 1; B's job starts within the stated bound (k − 1 plus the skip bound), not after A's 200")
        func fairShare() async throws {
            try await Harness.run { harness in
                let a = try await KeysTests.create(harness, "a", ["jobs"])
                let b = try await KeysTests.create(harness, "b", ["jobs"])
                func job(_ content: String) -> String {
                    #"{"kind":"chat","request":{"model":"llama3.2","messages":[{"role":"user","content":""# + content + #""}],"options":{"num_predict":2}}}"#
                }
                // The paused fake holds A's first job; the other 199 wait, then B's one arrives.
                await harness.fake.pause()
                for index in 0..<200 {
                    let submitted = try await harness.request(.POST, "/jobs", json: job("a-\(index)"), token: .some(a.secret))
                    try #require(submitted.status == 202, "\(submitted.body)")
                }
                await harness.fake.waitForGenerations(1)
                #expect(try await harness.request(.POST, "/jobs", json: job("b"), token: .some(b.secret)).status == 202)
                await harness.fake.resume()
                try await eventually("every job ran", timeout: .seconds(120)) { await harness.fake.requests(to: "/api/chat").count == 201 }
                let order = await harness.fake.requests(to: "/api/chat").map(\.body)
                let place = try #require(order.firstIndex { $0.contains(#""content":"b""#) })
                // k = 2 keys, ADR 0007's skip bound 8: at most 1 + 8 starts before it. With one model, it is the next.
                #expect(place <= 1 + 8, "B's job was the \(place + 1)th to start")
                #expect(place == 1, "B's job was the \(place + 1)th to start")
            }
        }

        @Test("fair share among native calls: key A's five waiting calls do not delay key B's one")
        func fairShareNative() async throws {
            try await Harness.run { harness in
                let a = try await KeysTests.create(harness, "a", ["inference"])
                let b = try await KeysTests.create(harness, "b", ["inference"])
                func call(_ content: String, _ secret: String) -> Task<TestResponse, any Error> {
                    Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2, content: content), token: .some(secret)) }
                }
                await harness.fake.pause()
                var calls = [call("a-0", a.secret)]
                await harness.fake.waitForGenerations(1)
                for index in 1...5 {
                    calls.append(call("a-\(index)", a.secret))
                    try await harness.waitForQueueDepth(index)
                }
                calls.append(call("b", b.secret))
                try await harness.waitForQueueDepth(6)
                await harness.fake.resume()
                for call in calls { #expect(try await call.value.status == 200) }
                let order = await harness.fake.requests(to: "/api/chat").map(\.body)
                let place = try #require(order.firstIndex { $0.contains(#""content":"b""#) })
                #expect(place == 1, "B's call was the \(place + 1)th to start: \(order)")
            }
        }
    }
}
