import AsyncHTTPClient
import FakeOllama
import ForemanTestSupport
import Foundation
import Testing

extension ServerTests {
    /// foreman's `/v1` surface driven by the official openai Python client (`scripts/openai-python-check.py`) in front
    /// of the fake Ollama: every call translated to a native one and back (ADR 0019).
    @Suite("OpenAI's API through the openai client")
    struct OpenAIClientTests {
        /// `.ci/run` installs the client and sets `FOREMAN_CLIENTS=1`, so there a missing client fails the test.
        static let available = RepositoryScript.pythonHas("openai") || ProcessInfo.processInfo.environment["FOREMAN_CLIENTS"] == "1"

        @Test("chat whole and streamed, tools, a JSON schema, completions, embeddings, models and refusals", .enabled(if: available))
        func openAIClient() async throws {
            try await Harness.run { harness in
                let check = try await RepositoryScript.run(
                    "scripts/openai-python-check.py", [],
                    environment: [
                        "FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": harness.token ?? "", "CHAT_MODEL": "llama3.2", "EMBED_MODEL": "nomic-embed-text",
                        "BOX": "fake",
                    ]
                )
                #expect(check.status == 0 && check.output.hasSuffix("checks passed"), "\(check.output)")

                // What the box was sent: the caller's own Ollama options, and the schema as Ollama's format.
                let sent = await harness.fake.requests(to: "/api/chat").compactMap {
                    (try? JSONSerialization.jsonObject(with: Data($0.body.utf8))) as? [String: Any]
                }
                #expect(sent.contains { ($0["options"] as? [String: Any])?["num_ctx"] as? Int == 4096 }, "options.num_ctx reached the box")
                #expect(sent.contains { ($0["format"] as? [String: Any])?["required"] as? [String] == ["city"] }, "the schema reached the box")
                let listed = try await harness.request(.GET, "/jobs?origin=openai").jsonObject()["jobs"] as? [[String: Any]] ?? []
                #expect(listed.count >= 6 && listed.allSatisfy { $0["origin"] as? String == "openai" }, "every generation was a job")
            }
        }

        static let anthropicAvailable = RepositoryScript.pythonHas("anthropic") || ProcessInfo.processInfo.environment["FOREMAN_CLIENTS"] == "1"

        @Test("the anthropic client: messages whole and streamed, x-api-key or bearer, an unknown model, a wrong key", .enabled(if: anthropicAvailable))
        func anthropicClient() async throws {
            try await Harness.run { harness in
                let check = try await RepositoryScript.run(
                    "scripts/anthropic-python-check.py", [],
                    environment: ["FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": harness.token ?? "", "CHAT_MODEL": "llama3.2"]
                )
                #expect(check.status == 0 && check.output.hasSuffix("checks passed"), "\(check.output)")
                let listed = try await harness.request(.GET, "/jobs?kind=messages").jsonObject()["jobs"] as? [[String: Any]] ?? []
                #expect(listed.count == 3 && listed.allSatisfy { $0["origin"] as? String == "openai" && $0["state"] as? String == "succeeded" }, "\(listed)")
            }
        }

        @Test("/v1/messages and /v1/responses reach the box as they came and come back byte for byte, as queued jobs")
        func relayedByteForByte() async throws {
            try await Harness.run { harness in
                let calls = [
                    ("/v1/messages", #"{"model":"llama3.2","max_tokens":3,"messages":[{"role":"user","content":"hi"}],"metadata":{"x":[1,2.50]}}"#),
                    ("/v1/messages", #"{"model":"llama3.2","max_tokens":3,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#),
                    ("/v1/responses", #"{"model":"llama3.2","input":"hi","max_output_tokens":3}"#),
                    ("/v1/responses", #"{"stream":true,"model":"llama3.2","input":"hi","max_output_tokens":3}"#),
                ]
                for (path, body) in calls {
                    let through = try await harness.request(.POST, path, json: body)
                    let sent = await harness.fake.requests(to: path).last?.body
                    #expect(sent == body, "the box got the caller's bytes")
                    let directRequest = ForemanRequest.make(.POST, port: harness.fakePort, path, token: nil, json: body)
                    let direct = try await HTTPClient.shared.execute(directRequest, timeout: .seconds(60))
                    let directBody = String(buffer: try await direct.body.collect(upTo: 1 << 20))
                    #expect(through.status == 200 && through.body == directBody, "\(path): \(through.body)")
                    #expect(through.headers.first(name: "X-Foreman-Job-Id") != nil)
                    if body.contains("stream") { #expect(through.headers.first(name: "Content-Type") == "text/event-stream") }
                }
                let jobs = try await harness.request(.GET, "/jobs?origin=openai").jsonObject()["jobs"] as? [[String: Any]] ?? []
                #expect(Set(jobs.compactMap { $0["kind"] as? String }) == ["messages", "responses"] && jobs.count == 4)

                // foreman's own refusals take each surface's shape.
                let unknown = try await harness.request(.POST, "/v1/messages", json: #"{"model":"nope","max_tokens":3,"messages":[]}"#)
                let refusal = try unknown.jsonObject()
                #expect(unknown.status == 404 && refusal["type"] as? String == "error" && (refusal["error"] as? [String: Any])?["type"] as? String == "not_found_error")
                let noModel = try await harness.request(.POST, "/v1/responses", json: #"{"input":"hi"}"#)
                let noModelError = try noModel.jsonObject()["error"] as? [String: Any]
                #expect(noModel.status == 400 && noModelError?["type"] as? String == "invalid_request_error")
                let keyed = try await harness.request(.POST, "/v1/messages", json: calls[0].1, token: .some(nil), headers: [("x-api-key", harness.token ?? "")])
                #expect(keyed.status == 200, "x-api-key is Anthropic's way to send the token")
                let elsewhere = try await harness.request(.GET, "/api/tags", token: .some(nil), headers: [("x-api-key", harness.token ?? "")])
                #expect(elsewhere.status == 401, "only on Anthropic's route")
                let submitted = try await harness.request(.POST, "/jobs", json: #"{"kind":"messages","request":{"model":"llama3.2"}}"#)
                #expect(submitted.status == 400, "/jobs takes the native kinds only")
            }
        }

        @Test("a /v1 call that sets no num_ctx runs the chat model with the one it was loaded with: no reload")
        func numCtxKept() async throws {
            // Every `try` here is inside `#expect`, which the closure's inference does not see: it is typed.
            try await Harness.run { (harness: Harness) async throws in
                let native = #"{"model":"llama3.2","stream":false,"messages":[{"role":"user","content":"hi"}],"options":{"num_ctx":8192}}"#
                #expect(try await harness.request(.POST, "/api/chat", json: native).status == 200)
                let openAI = #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}"#
                #expect(try await harness.request(.POST, "/v1/chat/completions", json: openAI).status == 200)
                let reloads = await harness.fake.reloads
                #expect(reloads.isEmpty, "\(reloads)")
                let sent = await harness.fake.requests(to: "/api/chat").last.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.body.utf8))) as? [String: Any] }
                #expect((sent?["options"] as? [String: Any])?["num_ctx"] as? Int == 8192)
                // A native call keeps Ollama's own behaviour: without num_ctx, the model's default, and a reload.
                #expect(try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false)).status == 200)
                let reloaded = await harness.fake.reloads
                #expect(reloaded == ["llama3.2:latest"])
            }
        }

        @Test("an openai client that closes its stream mid-way cancels its job and the box's generation", .enabled(if: available))
        func hangUp() async throws {
            try await Harness.run { harness in
                // The paused fake sends its first token and holds the second: the client reads one chunk, then closes.
                await harness.fake.pause()
                let closed = try await RepositoryScript.run(
                    "scripts/openai-python-check.py", [],
                    environment: ["FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": harness.token ?? "", "CHAT_MODEL": "llama3.2", "PHASE": "hang-up"]
                )
                #expect(closed.status == 0 && closed.output.hasSuffix("checks passed"), "\(closed.output)")
                await harness.fake.resume()
                try await eventually("upstream abort") { await harness.fake.abortedGenerations == 1 }
                try await eventually("the job cancelled") {
                    let jobs = try await harness.request(.GET, "/jobs?origin=openai").jsonObject()["jobs"] as? [[String: Any]] ?? []
                    return jobs.first?["state"] as? String == "cancelled"
                }
            }
        }

        @Test("errors on /v1 take OpenAI's shape: an unknown route's method, a bad body, a full queue (the openai client's too)")
        func errorShapes() async throws {
            try await Harness.run(configure: { $0.maxQueue = 1 }) { harness in
                let bad = try await harness.request(.POST, "/v1/chat/completions", json: "[1]")
                let error = try #require(try bad.jsonObject()["error"] as? [String: Any])
                #expect(bad.status == 400 && error["type"] as? String == "invalid_request_error" && error["message"] as? String != nil)
                for (path, body) in [
                    ("/v1/embeddings", #"{"model":"nomic-embed-text","input":5}"#),
                    ("/v1/completions", #"{"model":"llama3.2","prompt":["a","b"]}"#),
                    ("/v1/chat/completions", #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"max_tokens":"x"}"#),
                ] {
                    let refused = try await harness.request(.POST, path, json: body)
                    let shape = try refused.jsonObject()["error"] as? [String: Any]
                    #expect(refused.status == 400 && shape?["type"] as? String == "invalid_request_error", "\(path): \(refused.body)")
                }
                let unauthorized = try await harness.request(.GET, "/v1/models", token: .some(nil))
                let refusal = try unauthorized.jsonObject()["error"] as? [String: Any]
                #expect(unauthorized.status == 401 && refusal?["type"] as? String == "api_error")

                await harness.fake.pause()
                let body = #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}"#
                let first = Task { try await harness.request(.POST, "/v1/chat/completions", json: body) }
                await harness.fake.waitForGenerations(1)
                let second = Task { try await harness.request(.POST, "/v1/chat/completions", json: body) }
                try await harness.waitForQueueDepth(1)
                let full = try await harness.request(.POST, "/v1/chat/completions", json: body)
                #expect(full.status == 503 && full.headers.first(name: "Retry-After") != nil, "\(full.body)")
                let busy = try full.jsonObject()["error"] as? [String: Any]
                #expect(busy?["type"] as? String == "api_error")
                if Self.available {
                    let refused = try await RepositoryScript.run(
                        "scripts/openai-python-check.py", [],
                        environment: ["FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": harness.token ?? "", "CHAT_MODEL": "llama3.2", "PHASE": "queue-full"]
                    )
                    #expect(refused.status == 0 && refused.output.hasSuffix("checks passed"), "the openai client sees the 503: \(refused.output)")
                }
                await harness.fake.resume()
                #expect(try await first.value.status == 200)
                #expect(try await second.value.status == 200)
            }
        }
    }
}
