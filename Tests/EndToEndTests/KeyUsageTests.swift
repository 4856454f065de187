import ForemanTestSupport
import Foundation
import Testing

extension ServerTests {
    /// What each key used (ADR 0022): usage by key, model and day, equal to what the box reported; the tokens-per-day
    /// quota, kept across a restart; the concurrency cap; and the usage series on `/metrics`.
    @Suite("Keys: usage, quotas and the concurrency cap")
    struct KeyUsageTests {
        /// What the box reported for one call.
        struct Reported: Equatable {
            var requests = 0
            var prompt = 0
            var generated = 0

            static func + (a: Reported, b: Reported) -> Reported {
                Reported(requests: a.requests + b.requests, prompt: a.prompt + b.prompt, generated: a.generated + b.generated)
            }
        }

        /// The counts in an answer of any surface: Ollama's, OpenAI's or Anthropic's.
        static func reported(_ object: [String: Any]) -> Reported {
            let usage = object["usage"] as? [String: Any] ?? [:]
            let prompt = object["prompt_eval_count"] as? Int ?? usage["prompt_tokens"] as? Int ?? usage["input_tokens"] as? Int ?? 0
            let generated = object["eval_count"] as? Int ?? usage["completion_tokens"] as? Int ?? usage["output_tokens"] as? Int ?? 0
            return Reported(requests: 1, prompt: prompt, generated: generated)
        }

        /// The usage API's figures for `key`, summed over models and days.
        static func used(_ harness: Harness, _ key: String) async throws -> (Reported, [String: Any]) {
            let answer = try await harness.request(.GET, "/admin/usage?key=\(key)")
            try #require(answer.status == 200, "\(answer.body)")
            let object = try answer.jsonObject()
            let rows = object["usage"] as? [[String: Any]] ?? []
            var sum = Reported()
            for row in rows {
                sum = sum + Reported(requests: row["requests"] as? Int ?? 0, prompt: row["prompt_tokens"] as? Int ?? 0, generated: row["generated_tokens"] as? Int ?? 0)
            }
            return (sum, object)
        }

        @Test("usage per key equals the sums of the counts the box reported, over every surface; /metrics and `foreman usage` say the same")
        func usageEqualsReportedCounts() async throws {
            try await Harness.run { harness in
                let alice = try await KeysTests.create(harness, "alice", ["inference"])
                let bob = try await KeysTests.create(harness, "bob", ["inference", "jobs"])
                var expected: [String: Reported] = [:]
                func call(_ key: String, _ secret: String?, _ path: String, _ body: String) async throws {
                    let answer = try await harness.request(.POST, path, json: body, token: secret.map { .some($0) } ?? .none)
                    try #require(answer.status == 200, "\(path): \(answer.body)")
                    expected[key, default: Reported()] = expected[key, default: Reported()] + Self.reported(try answer.jsonObject())
                }
                try await call("alice", alice.secret, "/api/chat", Harness.chatBody(stream: false, tokens: 3))
                try await call("alice", alice.secret, "/api/generate", #"{"model":"llama3.2","prompt":"hi","stream":false,"options":{"num_predict":5}}"#)
                try await call("alice", alice.secret, "/v1/chat/completions", #"{"model":"llama3.2","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}"#)
                try await call("alice", alice.secret, "/api/embed", #"{"model":"nomic-embed-text","input":["a","b"]}"#)
                try await call("alice", alice.secret, "/v1/embeddings", #"{"model":"nomic-embed-text","input":["a","b","c"]}"#)
                // A stream's counts are on its last line.
                let streamed = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: true, tokens: 6), token: .some(alice.secret))
                let last = try #require(streamed.body.split(separator: "\n").last)
                let lastLine = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
                expected["alice"] = expected["alice", default: Reported()] + Self.reported(lastLine)
                try await call("bob", bob.secret, "/v1/messages", #"{"model":"llama3.2","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}"#)
                let submitted = try await harness.request(
                    .POST, "/jobs", json: #"{"kind":"chat","request":{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":7}}}"#,
                    token: .some(bob.secret)
                )
                let id = try #require(try submitted.jsonObject()["id"] as? String)
                try await eventually("bob's job ended") {
                    try await harness.request(.GET, "/jobs/\(id)", token: .some(bob.secret)).jsonObject()["state"] as? String == "succeeded"
                }
                let response = try await harness.request(.GET, "/jobs/\(id)/artifacts/response.json", token: .some(bob.secret)).jsonObject()
                expected["bob"] = expected["bob", default: Reported()] + Self.reported(response)
                try await call("admin", nil, "/api/chat", Harness.chatBody(stream: false, tokens: 2))

                for key in ["alice", "bob", "admin"] {
                    let (used, object) = try await Self.used(harness, key)
                    #expect(used == expected[key] && used.prompt > 0, "\(key): \(object)")
                    let rows = object["usage"] as? [[String: Any]] ?? []
                    #expect(rows.allSatisfy { $0["key"] as? String == key && ($0["generation_seconds"] as? Double ?? 0) > 0 }, "\(rows)")
                }
                let whole = try await harness.request(.GET, "/admin/usage").jsonObject()
                let total = whole["total"] as? [String: Any]
                let sum = expected.values.reduce(Reported(), +)
                #expect(total?["requests"] as? Int == sum.requests && total?["prompt_tokens"] as? Int == sum.prompt, "\(whole)")
                #expect(total?["total_tokens"] as? Int == sum.prompt + sum.generated)
                // By model: alice's embeddings stand apart from her chats.
                let aliceModels = Set((try await Self.used(harness, "alice").1["usage"] as? [[String: Any]] ?? []).compactMap { $0["model"] as? String })
                #expect(aliceModels.count == 2 && aliceModels.contains { $0.hasPrefix("nomic-embed-text") }, "\(aliceModels)")

                // The usage series carry the key's name.
                let metrics = try await harness.request(.GET, "/metrics").body
                let alicePrompt = expected["alice"]?.prompt ?? -1
                #expect(metrics.contains(#"foreman_key_tokens_total{key="alice",direction="prompt"} \#(alicePrompt)"#), "\(metrics)")
                #expect(metrics.contains(#"foreman_key_requests_total{key="bob"} 2"#))

                // `foreman usage` reads the same API.
                let pipe = Pipe()
                let result = try runForemanCommand(
                    ["usage", "--key", "alice"], environment: ["FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": "secret"], output: pipe.fileHandleForWriting
                )
                try pipe.fileHandleForWriting.close()
                let printed = try JSONSerialization.jsonObject(with: pipe.fileHandleForReading.readDataToEndOfFile()) as? [String: Any]
                #expect(result.status == 0 && (printed?["total"] as? [String: Any])?["prompt_tokens"] as? Int == alicePrompt, "\(result.standardError)")
            }
        }

        @Test("the usage API: 400 for a bad day, 404 for an unknown key, 403 without the admin scope; days bound the rows")
        func usageAPIRefusals() async throws {
            try await Harness.run { harness in
                let user = try await KeysTests.create(harness, "user", ["inference", "jobs"])
                #expect(try await harness.request(.POST, "/api/chat", json: KeysTests.chat, token: .some(user.secret)).status == 200)
                for query in ["from=2026-02-30", "to=yesterday", "from=2026-1-1"] {
                    let answer = try await harness.request(.GET, "/admin/usage?\(query)")
                    #expect(answer.status == 400 && answer.error?.contains("yyyy-MM-dd") == true, "\(query): \(answer.body)")
                }
                #expect(try await harness.request(.GET, "/admin/usage?key=nobody").status == 404)
                #expect(try await harness.request(.GET, "/admin/usage", token: .some(user.secret)).status == 403)
                let (byID, _) = try await Self.used(harness, user.id)
                #expect(byID.requests == 1, "a key is found by its id too")
                let past = try await harness.request(.GET, "/admin/usage?to=2000-01-01").jsonObject()
                #expect((past["usage"] as? [Any])?.isEmpty == true)
                let today = try await harness.request(.GET, "/admin/usage?from=2000-01-01&to=2999-12-31").jsonObject()
                #expect((today["usage"] as? [Any])?.count == 1)
            }
        }

        @Test("over its tokens per day a key gets 429 with Retry-After until the UTC day ends, on /api, /v1 and /jobs; kept across a restart")
        func tokensPerDay() async throws {
            let path = temporaryDatabasePath()
            let secret = try await Harness.run(databasePath: path) { harness -> String in
                // The fake reports 26 prompt tokens: each call of 2 generated tokens uses 28.
                let created = try await harness.request(.POST, "/admin/keys", json: #"{"name":"daily","scopes":["inference","jobs"],"tokens_per_day":40}"#)
                let object = try created.jsonObject()
                let (id, secret) = (try #require(object["id"] as? String), try #require(object["secret"] as? String))
                #expect(try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2), token: .some(secret)).status == 200)
                // Under the quota when asked: admitted, though it takes the key over.
                #expect(try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2), token: .some(secret)).status == 200)
                try await Self.expectOverQuota(harness, secret)
                let shown = try await harness.request(.GET, "/admin/keys/\(id)").jsonObject()
                #expect(shown["tokens_today"] as? Int == 56, "\(shown)")
                return secret
            }
            try await Harness.run(databasePath: path) { harness in
                // The day's tokens are read back from the store.
                try await Self.expectOverQuota(harness, secret)
                let (used, _) = try await Self.used(harness, "daily")
                #expect(used == Reported(requests: 2, prompt: 52, generated: 4))
                // A higher quota lets the key go on.
                let keys = try await harness.request(.GET, "/admin/keys").jsonObject()["keys"] as? [[String: Any]]
                let id = try #require(keys?.first { $0["name"] as? String == "daily" }?["id"] as? String)
                #expect(try await harness.request(.PATCH, "/admin/keys/\(id)", json: #"{"tokens_per_day":1000}"#).status == 200)
                #expect(try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2), token: .some(secret)).status == 200)
            }
        }

        static func expectOverQuota(_ harness: Harness, _ secret: String) async throws {
            let native = try await harness.request(.POST, "/api/chat", json: KeysTests.chat, token: .some(secret))
            let wait = Int(native.headers.first(name: "Retry-After") ?? "") ?? 0
            #expect(native.status == 429 && (1...86_400).contains(wait) && native.error?.contains("40 tokens a day") == true, "\(native.body)")
            let openAI = try await harness.request(.POST, "/v1/chat/completions", json: KeysTests.chat, token: .some(secret))
            let message = (try openAI.jsonObject()["error"] as? [String: Any])?["message"] as? String
            #expect(openAI.status == 429 && openAI.headers.first(name: "Retry-After") != nil && message?.contains("token quota") == true, "\(openAI.body)")
            let job = try await harness.request(.POST, "/jobs", json: #"{"kind":"chat","request":"# + KeysTests.chat + "}", token: .some(secret))
            #expect(job.status == 429, "\(job.body)")
            let embed = try await harness.request(.POST, "/api/embed", json: #"{"model":"nomic-embed-text","input":"a"}"#, token: .some(secret))
            #expect(embed.status == 429, "embeddings use tokens too")
            // Reads go on.
            #expect(try await harness.request(.GET, "/api/tags", token: .some(secret)).status == 200)
        }

        @Test("over its concurrency cap a key gets 429 with Retry-After on /jobs, /api, /v1 and /v1/messages; waiting native calls count; an end frees a place at once")
        func concurrencyCap() async throws {
            try await Harness.run { harness in
                let created = try await harness.request(.POST, "/admin/keys", json: #"{"name":"busy","scopes":["inference","jobs"],"max_concurrent":2}"#)
                let object = try created.jsonObject()
                let (id, secret) = (try #require(object["id"] as? String), try #require(object["secret"] as? String))
                let job = #"{"kind":"chat","request":{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":2}}}"#
                await harness.fake.pause()
                let first = try await harness.request(.POST, "/jobs", json: job, token: .some(secret))
                #expect(first.status == 202)
                await harness.fake.waitForGenerations(1)
                // A native call waits behind it, in memory: it counts.
                let waiting = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2), token: .some(secret)) }
                try await harness.waitForQueueDepth(1)
                let refusedJob = try await harness.request(.POST, "/jobs", json: job, token: .some(secret))
                #expect(refusedJob.status == 429 && refusedJob.headers.first(name: "Retry-After") != nil, "\(refusedJob.body)")
                #expect(refusedJob.error?.contains("2 generations queued or running") == true, "\(refusedJob.body)")
                let native = try await harness.request(.POST, "/api/chat", json: KeysTests.chat, token: .some(secret))
                #expect(native.status == 429 && native.error != nil, "\(native.body)")
                let openAI = try await harness.request(.POST, "/v1/chat/completions", json: KeysTests.chat, token: .some(secret))
                let openAIError = try openAI.jsonObject()["error"] as? [String: Any]
                #expect(openAI.status == 429 && openAIError?["message"] is String, "\(openAI.body)")
                let anthropic = try await harness.request(.POST, "/v1/messages", json: #"{"model":"llama3.2","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}"#, token: .some(secret))
                let anthropicType = try anthropic.jsonObject()["type"] as? String
                #expect(anthropic.status == 429 && anthropicType == "error", "\(anthropic.body)")
                // Embeddings are not generations; another key and the admin are not held back.
                #expect(try await harness.request(.POST, "/api/embed", json: #"{"model":"nomic-embed-text","input":"a"}"#, token: .some(secret)).status == 200)
                let shown = try await harness.request(.GET, "/admin/keys/\(id)").jsonObject()
                #expect(shown["active_generations"] as? Int == 2, "\(shown)")
                let admin = Task { try await harness.request(.POST, "/jobs", json: job) }
                #expect(try await admin.value.status == 202)

                await harness.fake.resume()
                #expect(try await waiting.value.status == 200)
                try await eventually("the key's work ended") {
                    try await harness.request(.GET, "/admin/keys/\(id)").jsonObject()["active_generations"] as? Int == 0
                }
                // A queued job cancelled frees its place before the cancel is answered.
                await harness.fake.pause()
                #expect(try await harness.request(.POST, "/jobs", json: job, token: .some(secret)).status == 202)
                await harness.fake.waitForGenerations(1)
                let queued = try #require(try await harness.request(.POST, "/jobs", json: job, token: .some(secret)).jsonObject()["id"] as? String)
                #expect(try await harness.request(.POST, "/jobs", json: job, token: .some(secret)).status == 429)
                #expect(try await harness.request(.DELETE, "/jobs/\(queued)", token: .some(secret)).status == 200)
                let again = try await harness.request(.POST, "/jobs", json: job, token: .some(secret), headers: [("Idempotency-Key", "k1")])
                #expect(again.status == 202)
                // At the cap, a repeat of a submission is answered with the original job: it takes no new place.
                let replay = try await harness.request(.POST, "/jobs", json: job, token: .some(secret), headers: [("Idempotency-Key", "k1")])
                let (replayID, originalID) = (try replay.jsonObject()["id"] as? String, try again.jsonObject()["id"] as? String)
                #expect(replay.status != 429 && replayID != nil && replayID == originalID, "\(replay.body)")
                #expect(try await harness.request(.POST, "/jobs", json: job, token: .some(secret), headers: [("Idempotency-Key", "k2")]).status == 429)
                await harness.fake.resume()
            }
        }
    }
}
