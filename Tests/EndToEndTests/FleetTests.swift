import FakeOllama
import ForemanApp
import ForemanDomain
import ForemanTestSupport
import Foundation
import Testing

extension ServerTests {
    /// Several boxes behind one foreman (ADR 0017): `provider/model` names, merged listings, routing, one worker per
    /// provider, and a provider that goes away and comes back. Every box is a fake on loopback; the `openai` one is
    /// the fake's OpenAI-compatible face.
    @Suite("A fleet of providers")
    struct FleetTests {
        static let llama = FakeModel(name: "llama3.2:latest")
        static let qwen = FakeModel(name: "qwen2.5:7b", family: "qwen2")
        static let mistral = FakeModel(name: "mistral:latest")
        static let nomic = FakeModel(name: "nomic-embed-text:latest", capabilities: ["embedding"], family: "nomic-bert")
        static let smol = FakeModel(name: "smol")

        private static func names(_ listing: TestResponse) throws -> Set<String> {
            let models = try listing.jsonObject()["models"] as? [[String: Any]] ?? []
            return Set(models.compactMap { $0["name"] as? String })
        }

        private static func chat(_ harness: Harness, _ model: String) async throws -> TestResponse {
            try await harness.request(.POST, "/api/chat", json: Harness.chatBody(model: model, stream: false, tokens: 2))
        }

        /// The models the box was sent, in order, by the `model` of each request to `path`.
        private static func sentModels(_ box: FakeBox, _ path: String) async -> [String] {
            await box.state.requests(to: path).compactMap { request in
                ((try? JSONSerialization.jsonObject(with: Data(request.body.utf8))) as? [String: Any])?["model"] as? String
            }
        }

        @Test("ids name a provider or not; listings merge; each call reaches the box its id names, as the box names the model")
        func namingAndRouting() async throws {
            let a = Harness.FleetMember("a", models: [Self.llama, Self.qwen])
            let b = Harness.FleetMember("b", models: [Self.llama, Self.mistral, Self.nomic])
            let c = Harness.FleetMember("c", kind: .openai, models: [Self.smol])
            try await Harness.runFleet([a, b, c]) { harness in
                let tags = try Self.names(try await harness.request(.GET, "/api/tags"))
                #expect(
                    tags == [
                        "a/llama3.2:latest", "a/qwen2.5:7b", "qwen2.5:7b", "b/llama3.2:latest", "b/mistral:latest", "mistral:latest",
                        "b/nomic-embed-text:latest", "nomic-embed-text:latest", "c/smol", "smol",
                    ],
                    "a bare name only where one provider has it: \(tags.sorted())"
                )

                // A named provider gets the model under its own name; the job keeps the id the caller used.
                let named = try await Self.chat(harness, "b/mistral")
                #expect(named.status == 200, "\(named.body)")
                #expect(await Self.sentModels(b.box, "/api/chat") == ["mistral"])
                let namedJob = try await harness.job(try #require(named.headers.first(name: "X-Foreman-Job-Id")))
                #expect(namedJob["model"] as? String == "b/mistral" && namedJob["provider"] as? String == "b", "\(namedJob)")

                // A bare name goes where the model is.
                #expect(try await Self.chat(harness, "qwen2.5:7b").status == 200)
                #expect(await Self.sentModels(a.box, "/api/chat") == ["qwen2.5:7b"])

                // An OpenAI-compatible provider answers in Ollama's shape.
                let translated = try await Self.chat(harness, "c/smol")
                #expect(translated.status == 200, "\(translated.body)")
                #expect(((try translated.jsonObject()["message"] as? [String: Any])?["content"] as? String)?.isEmpty == false)
                #expect(await Self.sentModels(c.box, "/v1/chat/completions") == ["smol"])
                // What the engine cannot honour is left out, and counted, the caller's made-up names under `other`.
                let unhonoured = try await harness.request(
                    .POST, "/api/chat", json: #"{"model":"c/smol","messages":[],"stream":false,"options":{"num_ctx":8192,"made_up":1}}"#
                )
                #expect(unhonoured.status == 200, "\(unhonoured.body)")
                #expect(await c.box.state.requests(to: "/v1/chat/completions").last?.body.contains("8192") == false)
                let metrics = try await harness.request(.GET, "/metrics").body
                #expect(metrics.contains(#"foreman_unhonoured_fields_total{field="options.num_ctx",provider="c"} 1"#), "\(metrics)")
                #expect(metrics.contains(#"foreman_unhonoured_fields_total{field="other",provider="c"} 1"#))

                // Where both have it: where it is resident.
                #expect(try await Self.chat(harness, "b/llama3.2").status == 200)
                #expect(try await Self.chat(harness, "llama3.2").status == 200)
                #expect(await Self.sentModels(b.box, "/api/chat") == ["mistral", "llama3.2", "llama3.2"])
                #expect(await Self.sentModels(a.box, "/api/chat") == ["qwen2.5:7b"])

                // Not there: Ollama's 404, with the id as the caller wrote it.
                let missing = try await Self.chat(harness, "a/mistral")
                #expect(missing.status == 404 && missing.error == "model 'a/mistral' not found", "\(missing.body)")
                #expect(try await Self.chat(harness, "nowhere/llama3.2").status == 404, "an unknown first segment is part of a bare name")

                let embedded = try await harness.request(.POST, "/api/embed", json: #"{"model":"b/nomic-embed-text","input":"hi"}"#)
                #expect(embedded.status == 200, "\(embedded.body)")
                #expect(await Self.sentModels(b.box, "/api/embed") == ["nomic-embed-text"])

                let shown = try await harness.request(.POST, "/api/show", json: #"{"model":"b/mistral"}"#)
                #expect(shown.status == 200, "\(shown.body)")
                #expect(await Self.sentModels(b.box, "/api/show").last == "mistral")

                let loaded = try Self.names(try await harness.request(.GET, "/api/ps"))
                // The chat slot's and the embeddings slot's models stay resident at an Ollama box; the engine keeps its own.
                #expect(loaded.isSuperset(of: ["b/llama3.2:latest", "b/nomic-embed-text:latest", "a/qwen2.5:7b", "c/smol"]), "\(loaded.sorted())")

                // `/jobs`: a named job is bound to its provider; a bare one runs where the model is.
                for model in ["b/mistral", "mistral"] {
                    let submitted = try await harness.submit(request: Harness.chatBody(model: model, tokens: 2))
                    #expect(submitted.status == 202, "\(submitted.body)")
                    let id = try #require(try submitted.jsonObject()["id"] as? String)
                    let done = try await harness.waitForJob(id, state: "succeeded")
                    #expect(done["model"] as? String == model && done["provider"] as? String == "b", "\(done)")
                }

                let health = try await harness.health()
                #expect(health["status"] as? String == "ok" && health["fleet"] as? String == "up", "\(health)")
                let providers = health["providers"] as? [[String: Any]] ?? []
                #expect(providers.compactMap { $0["name"] as? String } == ["a", "b", "c"])
                #expect(providers.compactMap { $0["kind"] as? String } == ["ollama", "ollama", "openai"])
            }
        }

        @Test("each box runs at most its concurrency, whatever is queued")
        func onePerBox() async throws {
            let members = [
                Harness.FleetMember("a", models: [Self.llama]),
                Harness.FleetMember("b", models: [Self.llama], concurrency: 2),
                Harness.FleetMember("c", kind: .openai, models: [Self.llama]),
            ]
            try await Harness.runFleet(members) { harness in
                for member in members { await member.box.state.pause() }
                var ids: [String] = []
                for index in 0..<12 {
                    let submitted = try await harness.submit(request: Harness.chatBody(model: "llama3.2", tokens: 2, content: "job \(index)"))
                    ids.append(try #require(try submitted.jsonObject()["id"] as? String))
                }
                // Every box starts what it may, and no more: a run holds its slot until the paused box lets it go.
                await members[0].box.state.waitForGenerations(1)
                await members[1].box.state.waitForGenerations(2)
                await members[2].box.state.waitForGenerations(1)
                for member in members { await member.box.state.resume() }
                var ranOn: [String: Int] = [:]
                for id in ids {
                    let done = try await harness.waitForJob(id, state: "succeeded")
                    ranOn[done["provider"] as? String ?? "?", default: 0] += 1
                }
                #expect(ranOn.values.reduce(0, +) == 12 && Set(ranOn.keys) == ["a", "b", "c"], "\(ranOn)")
                #expect(await members[0].box.state.maxConcurrentGenerations == 1)
                #expect(await members[1].box.state.maxConcurrentGenerations == 2)
                #expect(await members[2].box.state.maxConcurrentGenerations == 1)
            }
        }

        @Test("a box of concurrency 2 runs the next two /jobs jobs at once when its two runs end together")
        func twoAtOnceAfterTwoEnd() async throws {
            let box = Harness.FleetMember("b", models: [Self.llama], concurrency: 2)
            try await Harness.runFleet([box]) { harness in
                await box.box.state.pause()
                for index in 0..<2 { _ = try await harness.submit(request: Harness.chatBody(model: "llama3.2", tokens: 2, content: "first \(index)")) }
                await box.box.state.waitForGenerations(2)
                for index in 0..<2 { _ = try await harness.submit(request: Harness.chatBody(model: "llama3.2", tokens: 2, content: "next \(index)")) }
                try await harness.waitForQueueDepth(2)
                // The two runs finish; the two that follow are held after their first token, so both must have started.
                await box.box.state.resume()
                await box.box.state.pause()
                do {
                    try await eventually("both queued jobs running at once") {
                        let (active, completed) = (await box.box.state.activeGenerations, await box.box.state.completedGenerations)
                        return active == 2 && completed == 2
                    }
                } catch {
                    await box.box.state.resume()  // a held stream would keep the servers from stopping
                    throw error
                }
                await box.box.state.resume()
                try await eventually("all four done") { await box.box.state.completedGenerations == 4 }
            }
        }

        @Test("a provider that stops answering is hidden, its jobs wait, and everything returns when it answers again")
        func awayAndBack() async throws {
            let a = Harness.FleetMember("a", models: [Self.llama, Self.qwen])
            let b = Harness.FleetMember("b", models: [Self.llama, Self.mistral])
            try await Harness.runFleet([a, b], configure: { $0.pollInterval = .milliseconds(100) }) { harness in
                try await eventually("both up") { try await harness.health()["fleet"] as? String == "up" }
                await b.box.stop()
                try await eventually("b away") { try await harness.health()["fleet"] as? String == "partial" }
                let health = try await harness.request(.GET, "/healthz")
                let status = try health.jsonObject()["status"] as? String
                #expect(health.status == 503 && status == "degraded")

                let tags = try Self.names(try await harness.request(.GET, "/api/tags"))
                #expect(tags == ["a/llama3.2:latest", "llama3.2:latest", "a/qwen2.5:7b", "qwen2.5:7b"], "\(tags.sorted())")
                // A bare name another online provider has goes there.
                #expect(try await Self.chat(harness, "llama3.2").status == 200)
                #expect(await Self.sentModels(a.box, "/api/chat") == ["llama3.2"])

                // Jobs for b wait for it: named, and bare for a model only b has.
                var waiting: [String] = []
                for model in ["b/mistral", "mistral"] {
                    let submitted = try await harness.submit(request: Harness.chatBody(model: model, tokens: 2))
                    #expect(submitted.status == 202, "\(submitted.body)")
                    waiting.append(try #require(try submitted.jsonObject()["id"] as? String))
                }
                for id in waiting { #expect(try await harness.job(id)["state"] as? String != "succeeded") }

                try await b.box.start()
                for id in waiting {
                    let done = try await harness.waitForJob(id, state: "succeeded")
                    #expect(done["provider"] as? String == "b", "\(done)")
                }
                try await eventually("b back") { try await harness.health()["fleet"] as? String == "up" }
                #expect(try Self.names(try await harness.request(.GET, "/api/tags")).contains("b/mistral:latest"))
                #expect(await Self.sentModels(b.box, "/api/chat") == ["mistral", "mistral"])
            }
        }
    }
}
