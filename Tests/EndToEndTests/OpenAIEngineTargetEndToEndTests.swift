@testable import FakeOllama
import ForemanTarget
import ForemanTestSupport
import Foundation
import NIOCore
import Testing

extension ServerTests {
    /// ``OpenAIEngineTarget`` over real HTTP (``HTTP1Target`` on loopback) to the fake's OpenAI-compatible routes: the
    /// shape the `openai` provider kind will run in (ADR 0017).
    @Suite("OpenAI-compatible engines over HTTP")
    struct OpenAIEngineTargetEndToEndTests {
        private func withEngine<T: Sendable>(_ fake: FakeOllamaState, _ body: (OpenAIEngineTarget) async throws -> T) async throws -> T {
            try await withRunningService({ buildFakeOllama(state: fake, port: 0, logger: quietLogger("fake"), onServerRunning: $0) }) { port in
                let http = try HTTP1Target(
                    url: URL(string: "http://127.0.0.1:\(port)")!, token: nil, connectTimeout: .seconds(2), headTimeout: .seconds(10),
                    readTimeout: .seconds(10)
                )
                let result = try await body(OpenAIEngineTarget(engine: http))
                await http.closeIdleConnections()
                return result
            }
        }

        private static func lines(_ response: TargetResponse) async throws -> [[String: Any]] {
            var lines: [[String: Any]] = []
            var splitter = NDJSONLineSplitter()
            for try await chunk in response.body {
                for line in splitter.append(chunk) {
                    lines.append(try #require(try JSONSerialization.jsonObject(with: Data(line.readableBytesView)) as? [String: Any]))
                }
            }
            return lines
        }

        @Test("a streamed chat arrives token by token as Ollama's lines; a whole one as Ollama's object; the box ran each once")
        func chat() async throws {
            let fake = FakeOllamaState(tokenDelay: .milliseconds(1))
            try await withEngine(fake) { target in
                let streamed = try await target.send(TargetRequest(
                    method: .POST, path: "/api/chat",
                    body: ByteBuffer(string: #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":4}}"#)
                ))
                #expect(streamed.status == 200 && streamed.contentType == "application/x-ndjson")
                let lines = try await Self.lines(streamed)
                #expect(lines.count == 5)
                #expect(lines.dropLast().compactMap { ($0["message"] as? [String: Any])?["content"] as? String } == ["The", " sky", " is", " blue"])
                #expect(lines.last?["done"] as? Bool == true && lines.last?["eval_count"] as? Int == 4 && lines.last?["prompt_eval_count"] as? Int == 26)

                let whole = try await target.send(TargetRequest(
                    method: .POST, path: "/api/chat",
                    body: ByteBuffer(string: #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":2}}"#)
                ))
                let object = try #require(try JSONSerialization.jsonObject(with: Data(try await whole.body.collect(upTo: 1 << 20).readableBytesView)) as? [String: Any])
                #expect((object["message"] as? [String: Any])?["content"] as? String == "The sky")
                let sent = await fake.requests(to: "/v1/chat/completions")
                #expect(sent.count == 2)
                #expect(sent.first?.body.contains(#""max_tokens":4"#) == true)
                #expect(await fake.completedGenerations == 2)
                #expect(await fake.maxConcurrentGenerations == 1)
            }
        }

        @Test("models, embeddings and a missing model, in Ollama's shapes")
        func modelsAndEmbeddings() async throws {
            let fake = FakeOllamaState(tokenDelay: .milliseconds(1))
            try await withEngine(fake) { target in
                let tags = try await target.send(TargetRequest(method: .GET, path: "/api/tags"))
                let listed = try #require(try JSONSerialization.jsonObject(with: Data(try await tags.body.collect(upTo: 1 << 20).readableBytesView)) as? [String: Any])
                #expect((listed["models"] as? [[String: Any]])?.compactMap { $0["name"] as? String }.contains { $0.hasPrefix("nomic-embed-text") } == true)

                let embed = try await target.send(TargetRequest(
                    method: .POST, path: "/api/embed", body: ByteBuffer(string: #"{"model":"nomic-embed-text","input":["a","b"]}"#)
                ))
                // Compared as text: Foundation's JSON reader on Linux rounds some doubles, and the vectors must pass
                // through byte for byte.
                let answer = String(buffer: try await embed.body.collect(upTo: 1 << 20))
                let sent = try [FakeRoutes.vector(for: "a"), FakeRoutes.vector(for: "b")].map {
                    String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self)
                }
                #expect(answer.contains(#""embeddings":["# + sent.joined(separator: ",") + "]"), "\(answer)")

                let missing = try await target.send(TargetRequest(
                    method: .POST, path: "/api/chat", body: ByteBuffer(string: #"{"model":"nope","messages":[{"role":"user","content":"hi"}]}"#)
                ))
                #expect(missing.status == 404)
                #expect(String(buffer: try await missing.body.collect(upTo: 1 << 20)) == #"{"error":"model \"nope\" not found, try pulling it first"}"#)
            }
        }
    }
}
