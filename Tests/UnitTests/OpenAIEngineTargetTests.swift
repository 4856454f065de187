import ForemanEngine
import ForemanTarget
import Foundation
import NIOCore
import Synchronization
import Testing

/// ``OpenAIEngineTarget`` over an engine that answers with what a real `llama-server` sent (`Fixtures/`): the
/// requests it makes and the Ollama answers it gives back.
@Suite("OpenAI-compatible engines: the target")
struct OpenAIEngineTargetTests {
    /// An engine that answers each path with a canned response, and remembers what it was sent.
    final class CannedEngine: OllamaTarget {
        let answers: [String: (status: Int, chunks: [Data])]
        let sent = Mutex<[TargetRequest]>([])

        init(_ answers: [String: (status: Int, chunks: [Data])]) {
            self.answers = answers
        }

        func send(_ request: TargetRequest) async throws -> TargetResponse {
            sent.withLock { $0.append(request) }
            let answer = answers[request.path] ?? (404, [Data("{}".utf8)])
            return TargetResponse(status: answer.status, contentType: "application/json", body: TargetBody(buffers: answer.chunks.map { ByteBuffer(bytes: $0) }))
        }

        var lastBody: [String: Any] {
            let body = sent.withLock { $0.last?.body } ?? ByteBuffer()
            return ((try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]) ?? [:]
        }
    }

    static func chat(_ target: OpenAIEngineTarget, stream: Bool) async throws -> (TargetResponse, [String]) {
        let body = #"{"model":"smollm2","messages":[{"role":"user","content":"Say hi"}],"stream":"# + (stream ? "true" : "false") + "}"
        let response = try await target.send(TargetRequest(method: .POST, path: "/api/chat", body: ByteBuffer(string: body)))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        return (response, text.split(separator: "\n").map(String.init))
    }

    @Test("a streamed chat goes out as /v1/chat/completions and comes back as NDJSON, chunk by chunk")
    func streamedChat() async throws {
        let stream = try OpenAITranslationTests.fixture("llama-server-chat-stream.sse")
        let chunks = stride(from: 0, to: stream.count, by: 97).map { stream[$0..<min($0 + 97, stream.count)] }
        let engine = CannedEngine(["/v1/chat/completions": (200, chunks.map { Data($0) })])
        let (response, lines) = try await Self.chat(OpenAIEngineTarget(engine: engine), stream: true)
        #expect(response.status == 200 && response.contentType == "application/x-ndjson")
        #expect(engine.sent.withLock { $0.map(\.path) } == ["/v1/chat/completions"])
        #expect(engine.lastBody["model"] as? String == "smollm2" && engine.lastBody["stream"] as? Bool == true)
        let objects = try lines.map(OpenAITranslationTests.object)
        #expect(objects.count == 6)
        #expect(objects.compactMap { ($0["message"] as? [String: Any])?["content"] as? String }.joined() == "I'm glad you're")
        #expect(objects.last?["done"] as? Bool == true && objects.last?["eval_count"] as? Int == 5)
    }

    @Test("a whole chat comes back as Ollama's object")
    func wholeChat() async throws {
        let engine = CannedEngine(["/v1/chat/completions": (200, [try OpenAITranslationTests.fixture("llama-server-chat.json")])])
        let (response, lines) = try await Self.chat(OpenAIEngineTarget(engine: engine), stream: false)
        #expect(response.status == 200 && lines.count == 1)
        #expect(engine.lastBody["stream"] as? Bool == false)
        let object = try OpenAITranslationTests.object(lines[0])
        #expect((object["message"] as? [String: Any])?["content"] as? String == "I'm glad you're")
    }

    @Test("the engine's errors come back in Ollama's shape; a model it does not have is Ollama's 404")
    func errors() async throws {
        let missing = #"{"error":{"code":400,"message":"model 'smollm2' not found","type":"invalid_request_error"}}"#
        let notFound = try await Self.chat(OpenAIEngineTarget(engine: CannedEngine(["/v1/chat/completions": (400, [Data(missing.utf8)])])), stream: true)
        #expect(notFound.0.status == 404)
        #expect(notFound.1 == [#"{"error":"model \"smollm2\" not found, try pulling it first"}"#])
        let full = #"{"error":{"code":400,"message":"the request exceeds the available context size","type":"exceed_context_size_error"}}"#
        let tooLong = try await Self.chat(OpenAIEngineTarget(engine: CannedEngine(["/v1/chat/completions": (400, [Data(full.utf8)])])), stream: false)
        #expect(tooLong.0.status == 400)
        #expect(tooLong.1 == [#"{"error":"the request exceeds the available context size"}"#])
        let midStream = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: \(full)\n\n"
        let broken = try await Self.chat(OpenAIEngineTarget(engine: CannedEngine(["/v1/chat/completions": (200, [Data(midStream.utf8)])])), stream: true)
        #expect(broken.1.count == 2)
        #expect(broken.1.last == #"{"error":"the request exceeds the available context size"}"#)
    }

    @Test("the model list comes from /v1/models, in /api/tags' shape, and the inventory reads it")
    func tags() async throws {
        let engine = CannedEngine(["/v1/models": (200, [try OpenAITranslationTests.fixture("llama-server-models.json")])])
        let response = try await OpenAIEngineTarget(engine: engine).send(TargetRequest(method: .GET, path: "/api/tags"))
        let body = try await response.body.collect(upTo: 1 << 20)
        #expect(response.status == 200)
        #expect(String(buffer: body) == #"{"models":[{"name":"smollm2-135m-instruct","model":"smollm2-135m-instruct"}]}"#)
        #expect(try Inventory.models(fromTags: body) == ["smollm2-135m-instruct:latest": ""])
    }

    @Test("a generate goes out as a chat with one user message (the engine applies the template, as Ollama does), or raw as /v1/completions")
    func generate() async throws {
        let completion = try OpenAITranslationTests.fixture("llama-server-completion-stream.sse")
        let engine = CannedEngine([
            "/v1/completions": (200, [completion]),
            "/v1/chat/completions": (200, [try OpenAITranslationTests.fixture("llama-server-chat.json")]),
        ])
        let target = OpenAIEngineTarget(engine: engine)
        let raw = try await target.send(TargetRequest(method: .POST, path: "/api/generate", body: ByteBuffer(string: #"{"model":"m","prompt":"The sky is","raw":true}"#)))
        let lines = try String(buffer: try await raw.body.collect(upTo: 1 << 20)).split(separator: "\n").map { try OpenAITranslationTests.object(String($0)) }
        #expect(engine.lastBody["prompt"] as? String == "The sky is")
        #expect(lines.compactMap { $0["response"] as? String }.joined() == " a canvas of endless")
        #expect(lines.last?["done"] as? Bool == true && lines.last?["done_reason"] as? String == "length" && lines.last?["eval_count"] as? Int == 4)
        #expect(lines.allSatisfy { $0["message"] == nil })

        let templated = try await target.send(TargetRequest(
            method: .POST, path: "/api/generate", body: ByteBuffer(string: #"{"model":"m","system":"Be kind.","prompt":"Say hi","stream":false}"#)
        ))
        #expect(engine.sent.withLock { $0.last?.path } == "/v1/chat/completions")
        let messages = engine.lastBody["messages"] as? [[String: Any]] ?? []
        #expect(messages.map { $0["role"] as? String } == ["system", "user"] && messages.last?["content"] as? String == "Say hi")
        let object = try OpenAITranslationTests.object(String(buffer: try await templated.body.collect(upTo: 1 << 20)))
        #expect(object["response"] as? String == "I'm glad you're" && object["done"] as? Bool == true)
    }

    @Test("embeddings go out as /v1/embeddings and come back as Ollama's, vectors in order, values unchanged")
    func embed() async throws {
        let answer = try OpenAITranslationTests.fixture("llama-server-embeddings.json")
        let engine = CannedEngine(["/v1/embeddings": (200, [answer])])
        let response = try await OpenAIEngineTarget(engine: engine).send(
            TargetRequest(method: .POST, path: "/api/embed", body: ByteBuffer(string: #"{"model":"minilm","input":["hello","world"],"truncate":true}"#))
        )
        #expect(engine.lastBody["input"] as? [String] == ["hello", "world"] && engine.lastBody["truncate"] == nil)
        let object = try OpenAITranslationTests.object(String(buffer: try await response.body.collect(upTo: 1 << 20)))
        let vectors = try #require(object["embeddings"] as? [[Double]])
        let expected = try #require((try JSONSerialization.jsonObject(with: answer) as? [String: Any])?["data"] as? [[String: Any]])
        #expect(vectors.count == 2 && vectors.allSatisfy { $0.count == 384 })
        #expect(vectors == expected.map { $0["embedding"] as? [Double] ?? [] })
        #expect(object["model"] as? String == "minilm" && object["prompt_eval_count"] as? Int == 6)
    }

    @Test("what it does not serve yet is a clear 501")
    func unserved() async throws {
        let response = try await OpenAIEngineTarget(engine: CannedEngine([:])).send(TargetRequest(method: .POST, path: "/api/pull"))
        #expect(response.status == 501)
        #expect(String(buffer: try await response.body.collect(upTo: 1 << 20)) == #"{"error":"POST /api/pull is not served by an OpenAI-compatible provider"}"#)
    }
}
