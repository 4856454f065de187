import ForemanDomain
import Foundation
import NIOCore

/// An OpenAI-compatible engine (llama.cpp's `llama-server`, llama-swap, vLLM) seen as an Ollama target, for
/// providers of the `openai` kind (ADR 0017): native chat, generate and embed calls go out as the engine's `/v1/*`
/// calls (``OpenAIRequest``) and their answers come back in Ollama's shapes, streamed line by line as the engine's
/// events arrive; the model list comes from `/v1/models`.
///
/// `engine` is the HTTP client at the engine's address; this type only translates.
public struct OpenAIEngineTarget: OllamaTarget {
    let engine: any OllamaTarget
    /// The largest whole (non-streamed) answer or model list read from the engine.
    let maxAnswerBytes: Int
    /// Told of each call's fields the engine cannot honour (ADR 0018), with the model: the call goes on without them.
    let unhonoured: @Sendable (_ model: String, _ fields: [String]) -> Void

    public init(
        engine: any OllamaTarget, maxAnswerBytes: Int = 32 << 20, unhonoured: @escaping @Sendable (_ model: String, _ fields: [String]) -> Void = { _, _ in }
    ) {
        self.engine = engine
        self.maxAnswerBytes = maxAnswerBytes
        self.unhonoured = unhonoured
    }

    public func send(_ request: TargetRequest) async throws -> TargetResponse {
        do {
            return try await translated(request)
        } catch let refusal as Refusal {
            return refusal.answer
        }
    }

    /// An answer the engine's refusal made: it ends the call with that answer, from wherever it was met.
    private struct Refusal: Error {
        let answer: TargetResponse
    }

    private func translated(_ request: TargetRequest) async throws -> TargetResponse {
        switch (request.method, request.path) {
        case (.POST, "/api/chat"): try await generation(request.body ?? ByteBuffer(), shape: .chat)
        case (.POST, "/api/generate"): try await generation(request.body ?? ByteBuffer(), shape: .generate)
        case (.POST, "/api/embed"): try await embed(request.body ?? ByteBuffer())
        case (.GET, "/api/tags"): try await tags()
        case (.GET, "/api/ps"): try await loaded()
        case (.POST, "/api/show"): try await show(request.body ?? ByteBuffer())
        // OpenAI's own calls go to the engine as they are (ADR 0019).
        case (.POST, let path) where path.hasPrefix("/v1/"): try await engine.send(request)
        default: Self.answer(status: 501, error: "\(request.method.rawValue) \(request.path) is not served by an OpenAI-compatible provider")
        }
    }

    public func eventLoop(near current: (any EventLoop)?) -> (any EventLoop)? {
        engine.eventLoop(near: current)
    }

    private func generation(_ body: ByteBuffer, shape: OpenAIAnswer.Shape) async throws -> TargetResponse {
        try await forward(body) { native, model in
            try shape == .chat ? OpenAIRequest.chat(native, model: model) : OpenAIRequest.generate(native, model: model)
        } answer: { translation, response, model in
            guard translation.stream else {
                return try await whole(response) { try OpenAIAnswer.object(fromAnswer: $0, model: model, shape: shape) }
            }
            let lines = TranslatedStream(events: response.body, model: model, shape: shape)
            return TargetResponse(status: 200, contentType: "application/x-ndjson", body: TargetBody(lines))
        }
    }

    private func embed(_ body: ByteBuffer) async throws -> TargetResponse {
        try await forward(body) { native, model in
            try OpenAIRequest.embed(native, model: model)
        } answer: { _, response, model in
            try await whole(response) { try OpenAIEmbeddings.object(fromAnswer: $0, model: model) }
        }
    }

    /// Translates a native body, sends it to the engine, and hands a successful answer to `answer`; a body that cannot
    /// be translated is a 400, and the engine's refusal comes back in Ollama's shape.
    private func forward(
        _ body: ByteBuffer,
        translate: (Data, String) throws -> OpenAIRequest.Translation,
        answer: (OpenAIRequest.Translation, TargetResponse, String) async throws -> TargetResponse
    ) async throws -> TargetResponse {
        let native = Data(body.readableBytesView)
        let model = ((try? JSONSerialization.jsonObject(with: native)) as? [String: Any])?["model"] as? String ?? ""
        let translation: OpenAIRequest.Translation
        do {
            translation = try translate(native, model)
        } catch {
            return Self.answer(status: 400, error: "invalid request body: \(error)")
        }
        if !translation.unhonoured.isEmpty { unhonoured(model, translation.unhonoured) }
        let response = try await engine.send(TargetRequest(method: .POST, path: translation.path, body: ByteBuffer(bytes: translation.body)))
        guard response.isSuccess else { return try await engineError(response, model: model) }
        return try await answer(translation, response, model)
    }

    /// A whole answer, read and translated into Ollama's object.
    private func whole(_ response: TargetResponse, _ translate: (Data) throws -> String) async throws -> TargetResponse {
        let whole = try await response.body.collect(upTo: maxAnswerBytes)
        do {
            let object = try translate(Data(whole.readableBytesView))
            return TargetResponse(status: 200, contentType: "application/json; charset=utf-8", body: TargetBody(buffers: [ByteBuffer(string: object)]))
        } catch {
            return Self.answer(status: 502, error: "the engine's answer could not be read: \(error)")
        }
    }


    /// The engine's models in `/api/tags`' shape: what the inventory reads.
    private func tags() async throws -> TargetResponse {
        let models = try await modelList().compactMap { $0["id"] as? String }.map { id -> String in
            var model = JSONObjectWriter()
            model.string("name", id)
            model.string("model", id)
            return model.finished()
        }
        return Self.json(#"{"models":["# + models.joined(separator: ",") + "]}")
    }

    /// The engine's `/v1/models` list, each entry as the engine gave it.
    ///
    /// - Throws: ``Refusal`` with the engine's error in Ollama's shape.
    private func modelList() async throws -> [[String: Any]] {
        let (response, object) = try await get("/v1/models")
        guard response.isSuccess else { throw Refusal(answer: try await engineError(response, model: nil)) }
        guard let listed = object?["data"] as? [[String: Any]] else {
            throw Refusal(answer: Self.answer(status: 502, error: "the engine's /v1/models answer has no data list"))
        }
        return listed
    }

    /// A `GET` of the engine's, read whole, and its answer as a JSON object when it succeeded and is one. The response
    /// comes back with its body still readable, for ``engineError(_:model:)``.
    private func get(_ path: String) async throws -> (response: TargetResponse, object: [String: Any]?) {
        var response = try await engine.send(TargetRequest(method: .GET, path: path))
        let body = try await response.body.collect(upTo: maxAnswerBytes)
        response.body = TargetBody(buffers: [body])
        guard response.isSuccess else { return (response, nil) }
        return (response, (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any])
    }

    /// The models loaded now in `/api/ps`' shape: llama-swap's `/running` where the engine has it, else every model
    /// `/v1/models` lists (a single-model `llama-server` or vLLM keeps what it serves loaded).
    private func loaded() async throws -> TargetResponse {
        let names: [String]
        if let running = try await get("/running").object?["running"] as? [[String: Any]] {
            names = running.filter { ($0["state"] as? String ?? "ready") == "ready" }.compactMap { $0["model"] as? String }
        } else {
            names = try await modelList().compactMap { $0["id"] as? String }
        }
        let entries = names.map { name -> String in
            var model = JSONObjectWriter()
            model.string("name", name)
            model.string("model", name)
            model.int("size", 0)
            model.string("digest", "")
            model.int("size_vram", 0)
            return model.finished()
        }
        return Self.json(#"{"models":["# + entries.joined(separator: ",") + "]}")
    }

    /// What the engine says of one model in `/api/show`'s shape. The context length is the engine's own (llama.cpp's
    /// `/props`, else the model list's `meta.n_ctx`); what the engine does not say is left out, never made up.
    private func show(_ body: ByteBuffer) async throws -> TargetResponse {
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
        guard let model = (object?["model"] as? String) ?? (object?["name"] as? String) else {
            return Self.answer(status: 400, error: "model is required")
        }
        let models = try await modelList()
        // The inventory asks with the tag made explicit (`id:latest`); an engine's ids usually have none.
        let wanted = ModelName.normalized(model)
        guard let entry = models.first(where: { ($0["id"] as? String).map(ModelName.normalized) == wanted }) else {
            return Self.answer(status: 404, error: "model '\(model)' not found")
        }
        let meta = entry["meta"] as? [String: Any]
        var contextLength = (meta?["n_ctx"] as? NSNumber)?.intValue
        let settings = try await get("/props").object?["default_generation_settings"] as? [String: Any]
        if let nCtx = (settings?["n_ctx"] as? NSNumber)?.intValue { contextLength = nCtx }
        var info = JSONObjectWriter()
        info.string("general.architecture", "openai")
        info.int("general.parameter_count", (meta?["n_params"] as? NSNumber)?.intValue)
        info.int("openai.context_length", contextLength)
        info.int("openai.embedding_length", (meta?["n_embd"] as? NSNumber)?.intValue)
        // Only what the engine lists (llama.cpp's router mode does): a guess would send an embeddings model's calls down
        // the chat model's path, or the other way round.
        let capabilities = (entry["capabilities"] as? [String]) ?? []
        var show = JSONObjectWriter()
        show.string("modelfile", "")
        show.string("parameters", "")
        show.string("template", "")
        show.raw("details", #"{"format":"","family":"","parameter_size":"","quantization_level":""}"#)
        show.raw("model_info", info.finished())
        show.raw("capabilities", "[" + capabilities.map(JSONObjectWriter.quoted).joined(separator: ",") + "]")
        return Self.json(show.finished())
    }

    private static func json(_ text: String) -> TargetResponse {
        TargetResponse(status: 200, contentType: "application/json; charset=utf-8", body: TargetBody(buffers: [ByteBuffer(string: text)]))
    }

    /// The engine's error answer in Ollama's shape, `{"error": "…"}`. A model the engine does not have is Ollama's 404.
    private func engineError(_ response: TargetResponse, model: String?) async throws -> TargetResponse {
        let body = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
        let message = object.flatMap(OpenAIAnswer.errorMessage) ?? "the engine answered HTTP \(response.status)"
        if let model, message.contains("not found"), message.contains(model) {
            return Self.answer(status: 404, error: "model \"\(model)\" not found, try pulling it first")
        }
        return Self.answer(status: response.status, error: message, retryAfter: response.retryAfter)
    }

    static func answer(status: Int, error: String, retryAfter: Duration? = nil) -> TargetResponse {
        let body = ByteBuffer(string: #"{"error":"# + JSONObjectWriter.quoted(error) + "}")
        return TargetResponse(status: status, contentType: "application/json; charset=utf-8", retryAfter: retryAfter, body: TargetBody(buffers: [body]))
    }
}

/// An engine's streamed answer (server-sent events) as Ollama's NDJSON, line by line as the events arrive. An error
/// the engine sends mid-stream ends the stream with Ollama's `{"error": "…"}` line.
struct TranslatedStream: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let events: TargetBody
    let model: String
    let shape: OpenAIAnswer.Shape

    func makeAsyncIterator() -> Iterator {
        Iterator(events: events.makeAsyncIterator(), answer: OpenAIAnswer(model: model, shape: shape))
    }

    struct Iterator: AsyncIteratorProtocol {
        var events: TargetBody.AsyncIterator
        var answer: OpenAIAnswer
        var splitter = SSEEventSplitter()
        var ended = false

        init(events: TargetBody.AsyncIterator, answer: OpenAIAnswer) {
            self.events = events
            self.answer = answer
        }

        mutating func next() async throws -> ByteBuffer? {
            while !ended {
                var arrived: [String]
                if let chunk = try await events.next() {
                    arrived = splitter.append(chunk)
                } else {
                    ended = true
                    arrived = splitter.finish().map { [$0] } ?? []
                }
                var lines: [String] = []
                do {
                    for event in arrived { lines += try answer.lines(forEvent: event) }
                    if ended { lines += answer.finish() }
                } catch let error as TranslationError {
                    // The lines before the error still go out; the error is the last one.
                    ended = true
                    lines.append(#"{"error":"# + JSONObjectWriter.quoted(error.description) + "}")
                }
                if !lines.isEmpty { return ByteBuffer(string: lines.joined(separator: "\n") + "\n") }
            }
            return nil
        }
    }
}
