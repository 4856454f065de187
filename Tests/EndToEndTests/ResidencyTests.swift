import FakeOllama
import ForemanEngine
import ForemanDomain
import ForemanTestSupport
import Foundation
import Testing

/// The four models of the residency tests: two chat models and two embedding models.
enum FourModels {
    static let chatA = "llama3.2:latest"
    static let chatB = "qwen2.5:7b"
    static let embedA = "nomic-embed-text:latest"
    static let embedB = "mxbai-embed-large:latest"

    /// A fake that holds three models before it evicts on its own, so a third resident model is visible.
    static func fake() -> FakeOllamaState {
        var models = FakeModel.defaults + [FakeModel(name: embedB, capabilities: ["embedding"], family: "bert", size: 669_615_493)]
        for index in models.indices { models[index].loadTime = .milliseconds(10) }
        return FakeOllamaState(models: models, tokenDelay: .milliseconds(1), maxLoaded: 3)
    }
}

extension Harness {
    func embed(_ model: String, input: String = "hello", extra: String = "") async throws -> TestResponse {
        try await request(.POST, "/api/embed", json: #"{"model":"\#(model)","input":"\#(input)"\#(extra)}"#)
    }

    func chat(_ model: String) async throws -> TestResponse {
        try await request(.POST, "/api/chat", json: Harness.chatBody(model: model, stream: false, tokens: 2))
    }

    /// Waits until the poller has read every model's capabilities (`/healthz` lists the embedding models).
    func waitForEmbeddingModels(_ expected: [String]) async throws {
        try await eventually("embedding models \(expected)") {
            let residency = try await health()["residency"] as? [String: Any]
            return residency?["embedding_models"] as? [String] == expected
        }
    }
}

extension ServerTests {
    @Suite("Two-slot residency and the embeddings fast lane")
    struct ResidencyTests {
        @Test("a RAG loop across two chat models loads the embeddings model once and never holds three models")
        func ragLoop() async throws {
            try await Harness.run(fake: FourModels.fake()) { harness in
                try await harness.waitForEmbeddingModels([FourModels.embedB, FourModels.embedA])
                for chat in [FourModels.chatA, FourModels.chatB, FourModels.chatA, FourModels.chatB] {
                    #expect(try await harness.embed("nomic-embed-text").status == 200)
                    #expect(try await harness.chat(chat).status == 200)
                }
                let fake = harness.fake
                #expect(await fake.loads.filter { $0 == FourModels.embedA }.count == 1)
                #expect(await !fake.unloads.contains(FourModels.embedA))
                #expect(await fake.maxResident == 2)
                #expect(await fake.selfEvictions.isEmpty)
                #expect(await fake.reloads.isEmpty)
                let residency = try await harness.health()["residency"] as? [String: Any]
                #expect(residency?["chat_slot"] as? String == FourModels.chatB)
                #expect(residency?["embed_slot"] as? String == FourModels.embedA)
            }
        }

        @Test("any mix of chat, embed calls and embed jobs over four models keeps at most two resident", arguments: [1, 2, 3] as [UInt64])
        func randomTraffic(seed: UInt64) async throws {
            try await Harness.run(fake: FourModels.fake()) { harness in
                try await harness.waitForEmbeddingModels([FourModels.embedB, FourModels.embedA])
                var random = SplitMix64(state: seed)
                for _ in 0..<6 {
                    // Three calls at once: generations serialise in the worker while embeddings run beside them.
                    let batch = (0..<3).map { _ in Int(random.next() % 6) }
                    try await withThrowingTaskGroup(of: Int.self) { group in
                        for choice in batch {
                            group.addTask {
                                switch choice {
                                case 0: try await harness.chat(FourModels.chatA).status
                                case 1: try await harness.chat(FourModels.chatB).status
                                case 2: try await harness.embed(FourModels.embedA).status
                                case 3: try await harness.embed(FourModels.embedB).status
                                case 4:
                                    try await harness.submit(request: Harness.chatBody(model: FourModels.chatB, tokens: 2)).status == 202 ? 200 : 500
                                default:
                                    try await harness.submit(kind: "embed", request: #"{"model":"\#(FourModels.embedB)","input":"x"}"#).status == 202 ? 200 : 500
                                }
                            }
                        }
                        for try await status in group { #expect(status == 200) }
                    }
                }
                try await eventually("every job finished") {
                    let queued = try await harness.request(.GET, "/jobs?state=queued").jsonObject()["jobs"] as? [Any]
                    let running = try await harness.request(.GET, "/jobs?state=running").jsonObject()["jobs"] as? [Any]
                    return queued?.isEmpty == true && running?.isEmpty == true
                }
                #expect(await harness.fake.maxResident <= 2)
                #expect(await harness.fake.selfEvictions.isEmpty)
            }
        }

        @Test("an embed call and an embed job during a long generation finish without waiting for it")
        func embedDuringGeneration() async throws {
            try await Harness.run(fake: FourModels.fake()) { harness in
                await harness.fake.pause()
                let chat = try await harness.stream("/api/chat", json: Harness.chatBody(tokens: 5))
                var reader = LineReader(chat)
                _ = try await reader.next()  // the generation has started and is held after its first token
                #expect(try await harness.embed("nomic-embed-text").status == 200)
                let submitted = try await harness.submit(kind: "embed", request: #"{"model":"nomic-embed-text","input":"y"}"#)
                let id = try #require(try submitted.jsonObject()["id"] as? String)
                _ = try await harness.waitForJob(id, state: "succeeded")
                #expect(await harness.fake.activeGenerations == 1)  // still held: nothing waited for it
                await harness.fake.resume()
                while try await reader.next() != nil {}
                #expect(await harness.fake.completedGenerations == 1)
            }
        }

        @Test("chat traffic never unloads the embeddings model; a new embeddings model replaces the old one")
        func embeddingsSlot() async throws {
            try await Harness.run(fake: FourModels.fake()) { harness in
                try await harness.waitForEmbeddingModels([FourModels.embedB, FourModels.embedA])
                #expect(try await harness.embed(FourModels.embedA).status == 200)
                for chat in [FourModels.chatA, FourModels.chatB, FourModels.chatA] {
                    #expect(try await harness.chat(chat).status == 200)
                }
                #expect(await !harness.fake.unloads.contains(FourModels.embedA))
                #expect(await harness.fake.resident == [FourModels.chatA, FourModels.embedA])
                #expect(try await harness.embed(FourModels.embedB).status == 200)
                #expect(await harness.fake.resident == [FourModels.chatA, FourModels.embedB])
                #expect(await harness.fake.unloads.contains(FourModels.embedA))
                #expect(await harness.fake.selfEvictions.isEmpty)
            }
        }

        @Test("back-to-back generations on one model read /api/ps once; a new chat model is checked, and its stray unloaded")
        func trustedResidencyCheck() async throws {
            try await Harness.run(fake: FourModels.fake()) { harness in
                let before = await harness.fake.requests(to: "/api/ps").count
                for _ in 0..<3 {
                    let status = try await harness.chat(FourModels.chatA).status
                    #expect(status == 200)
                }
                let checks = await harness.fake.requests(to: "/api/ps").count
                #expect(checks == before + 1)
                #expect(try await harness.chat(FourModels.chatB).status == 200)
                #expect(await harness.fake.requests(to: "/api/ps").count > checks)
                #expect(await harness.fake.unloads == [FourModels.chatA])
                #expect(await harness.fake.resident == [FourModels.chatB])
            }
        }

        @Test("embeddings calls that set no num_ctx reuse the one the model was loaded with, so it never reloads")
        func consistentNumCtx() async throws {
            try await Harness.run(fake: FourModels.fake()) { harness in
                let statuses = [
                    try await harness.embed("nomic-embed-text", extra: #","options":{"num_ctx":8192}"#).status,
                    try await harness.embed("nomic-embed-text").status,
                    try await harness.request(.POST, "/api/embeddings", json: #"{"model":"nomic-embed-text","prompt":"p"}"#).status,
                ]
                #expect(statuses == [200, 200, 200])
                #expect(await harness.fake.reloads.isEmpty)
                let sent = await harness.fake.requests.filter { $0.path.hasPrefix("/api/embed") }.map(\.body)
                #expect(sent.count == 3)
                #expect(sent.allSatisfy { $0.contains(#""num_ctx":8192"#) })
                // A caller that sets another value gets exactly that (and the model reloads, as it asked).
                let explicit = try await harness.embed("nomic-embed-text", extra: #","options":{"num_ctx":2048}"#)
                #expect(explicit.status == 200)
                #expect(await harness.fake.reloads == [FourModels.embedA])
            }
        }

        @Test("wrong-kind calls get the target's own errors and leave both slots alone")
        func wrongKind() async throws {
            try await Harness.run(fake: FourModels.fake()) { harness in
                try await harness.waitForEmbeddingModels([FourModels.embedB, FourModels.embedA])
                #expect(try await harness.embed(FourModels.embedA).status == 200)
                #expect(try await harness.chat(FourModels.chatA).status == 200)
                let chatOnEmbedder = try await harness.chat("nomic-embed-text")
                #expect(chatOnEmbedder.status == 400)
                #expect(chatOnEmbedder.error == #""nomic-embed-text" does not support chat"#)
                let embedOnChatModel = try await harness.embed("qwen2.5:7b")
                #expect(embedOnChatModel.status == 500)
                #expect(embedOnChatModel.error == "this model does not support embeddings")
                let sent = await harness.fake.requests(to: "/api/embed").last?.body ?? ""
                #expect(sent.contains(#""keep_alive":0"#))  // the target may not keep what it loaded to refuse
                #expect(await harness.fake.resident == [FourModels.chatA, FourModels.embedA])
                #expect(await harness.fake.unloads.isEmpty)
            }
        }

        @Test("a queued job shows its place in its lane and an estimated start once a run time is known")
        func estimatedStart() async throws {
            try await Harness.run(fake: FourModels.fake()) { harness in
                let first = try await harness.submit(request: Harness.chatBody(tokens: 2))
                _ = try await harness.waitForJob(try #require(try first.jsonObject()["id"] as? String), state: "succeeded")
                await harness.fake.pause()
                #expect(try await harness.submit(request: Harness.chatBody(tokens: 2)).status == 202)
                await harness.fake.waitForGenerations(2)
                let queued = try await harness.submit(request: Harness.chatBody(tokens: 2)).jsonObject()
                #expect(queued["queue_position"] as? Int == 1)
                let estimate = try #require(queued["estimated_start_at"] as? String)
                #expect(Timestamp.date(estimate).map { $0 >= Date(timeIntervalSinceNow: -5) } == true)
                let embed = try await harness.submit(kind: "embed", request: #"{"model":"nomic-embed-text","input":"z"}"#).jsonObject()
                #expect(embed["queue_position"] as? Int == 1 || embed["state"] as? String != "queued")
                await harness.fake.resume()
            }
        }
    }
}
