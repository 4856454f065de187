import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Builds the fake Ollama server: the native API with streamed tokens, slow model loads and injectable failures.
///
/// Besides Ollama's routes it answers `GET /_fake/state`, `POST /_fake/fail` (a ``FakeFailure`` as JSON),
/// `POST /_fake/pause` and `POST /_fake/resume`, so a person trying foreman can poke it with curl.
public func buildFakeOllama(
    state: FakeOllamaState,
    host: String = "127.0.0.1",
    port: Int = 11434,
    logger: Logger = Logger(label: "fake-ollama"),
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = Router(context: FakeRequestContext.self)
    router.add(middleware: RecordingMiddleware(state: state))
    FakeRoutes(state: state).register(on: router)
    return Application(
        router: router,
        configuration: .init(address: .hostname(host, port: port), serverName: "fake-ollama"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
        logger: logger
    )
}

/// Remembers every request (method, path, Host, Authorization, body) before it is answered.
struct RecordingMiddleware<Context: RequestContext>: RouterMiddleware {
    let state: FakeOllamaState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        // A blob upload is left to stream to its route; its size is what the route records.
        let isBlob = request.uri.path.hasPrefix("/api/blobs/")
        let body = isBlob ? ByteBuffer() : try await request.collectBody(upTo: 64 << 20)
        await state.record(
            RecordedRequest(
                method: request.method.rawValue,
                path: request.uri.path,
                host: request.head.authority ?? request.headers[HTTPField.Name("Host")!],
                authorization: request.headers[.authorization],
                body: String(buffer: body)
            )
        )
        return try await next(request, context)
    }
}

struct FakeRoutes: Sendable {
    let state: FakeOllamaState

    func register(on router: Router<FakeRequestContext>) {
        router.get("/") { _, _ in Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "Ollama is running"))) }
        router.head("/") { _, _ in Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"]) }
        router.get("/api/version") { _, context in try await self.guarded("/api/version", context) { json(["version": "0.32.15"]) } }
        router.get("/api/tags") { _, context in try await self.guarded("/api/tags", context) { await self.tags() } }
        router.get("/api/ps") { _, context in try await self.guarded("/api/ps", context) { await self.ps() } }
        router.post("/api/show") { request, context in try await self.guarded("/api/show", context) { try await self.show(request) } }
        router.post("/api/chat") { request, context in try await self.guarded("/api/chat", context) { try await self.generate(request, chat: true) } }
        router.post("/api/generate") { request, context in try await self.guarded("/api/generate", context) { try await self.generate(request, chat: false) } }
        router.post("/api/embed") { request, context in try await self.guarded("/api/embed", context) { try await self.embed(request, legacy: false) } }
        router.post("/api/embeddings") { request, context in try await self.guarded("/api/embeddings", context) { try await self.embed(request, legacy: true) } }
        // OpenAI's API, as Ollama's own compatibility layer and llama.cpp's server serve it: the `openai` provider kind
        // talks to these.
        FakeModelManagement(state: state).register(on: router)
        router.get("/v1/models") { _, context in try await self.guarded("/v1/models", context) { await self.openAIModels() } }
        router.post("/v1/chat/completions") { request, context in
            try await self.guarded("/v1/chat/completions", context) { try await self.openAIGenerate(request, chat: true) }
        }
        router.post("/v1/completions") { request, context in
            try await self.guarded("/v1/completions", context) { try await self.openAIGenerate(request, chat: false) }
        }
        router.post("/v1/embeddings") { request, context in try await self.guarded("/v1/embeddings", context) { try await self.openAIEmbed(request) } }
        // Anthropic's Messages API and OpenAI's Responses API, which Ollama and llama.cpp's server serve beside it.
        router.post("/v1/messages") { request, context in try await self.guarded("/v1/messages", context) { try await self.messages(request) } }
        router.post("/v1/responses") { request, context in try await self.guarded("/v1/responses", context) { try await self.responses(request) } }
        router.get("/_fake/state") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: await self.state.summary())))
        }
        router.post("/_fake/pause") { _, _ in await self.state.pause(); return json(["paused": true]) }
        router.post("/_fake/resume") { _, _ in await self.state.resume(); return json(["paused": false]) }
        router.post("/_fake/fail") { request, context in
            let failure = try await request.decode(as: FakeFailure.self, context: context)
            await self.state.inject(failure)
            return json(["injected": true])
        }
    }

    /// Answers with an injected failure (one without `afterTokens`) instead of running `body`.
    private func guarded(_ path: String, _ context: FakeRequestContext, _ body: () async throws -> Response) async throws -> Response {
        if let failure = await state.takeFailure(for: path) {
            if let after = failure.afterTokens {
                return try await body().breakingAfter(after, failure.error, drop: failure.drop, channel: context.channel)
            }
            if failure.drop {
                // The request arrived whole; the connection closes without a word, as a crashing server's would.
                try await context.channel.close()
                throw CancellationError()
            }
            var response = error(failure.status, failure.error)
            if let retryAfter = failure.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        }
        return try await body()
    }

    private func tags() async -> Response {
        let models = await state.models.map { model -> [String: Any] in
            [
                "name": model.name, "model": model.name, "modified_at": "2025-05-04T17:37:44.706015396Z",
                "size": model.size, "digest": model.digest, "details": details(model),
            ]
        }
        return json(["models": models])
    }

    private func ps() async -> Response {
        let resident = await state.residentModels().map { model, usedAt, numCtx -> [String: Any] in
            [
                "name": model.name, "model": model.name, "size": model.size, "digest": model.digest,
                "details": details(model), "expires_at": timestamp(usedAt.addingTimeInterval(300)),
                "size_vram": model.size, "context_length": numCtx,
            ]
        }
        return json(["models": resident])
    }

    private func show(_ request: Request) async throws -> Response {
        let body = try await object(request)
        let name = (body["model"] as? String) ?? (body["name"] as? String) ?? ""
        if name.isEmpty { return error(400, "model is required") }
        guard let model = await state.model(named: name) else {
            return error(404, "model '\(FakeOllamaState.normalized(name))' not found")
        }
        return json([
            "license": "", "modelfile": "FROM \(model.name)\n", "parameters": "", "template": "{{ .Prompt }}",
            "details": details(model), "model_info": ["general.architecture": model.family, "\(model.family).context_length": 131_072],
            "capabilities": model.capabilities, "modified_at": "2025-05-04T17:37:44.706015396Z",
        ])
    }

    private func generate(_ request: Request, chat: Bool) async throws -> Response {
        let body = try await object(request)
        let name = (body["model"] as? String) ?? ""
        guard let model = await state.model(named: name) else {
            return chat && name.isEmpty ? error(400, "model is required") : error(404, "model '\(name)' not found")
        }
        let isEmpty = chat ? ((body["messages"] as? [Any])?.isEmpty ?? true) : ((body["prompt"] as? String) ?? "").isEmpty
        let keepAliveZero = Self.isZero(body["keep_alive"])
        // Ollama checks for an unload before capabilities, so `ollama stop` works for embedding models too.
        if isEmpty, keepAliveZero {
            await state.unload(model.name)
            var line: [String: Any] = ["model": name, "created_at": timestamp(Date()), "done": true, "done_reason": "unload"]
            line[chat ? "message" : "response"] = chat ? ["role": "assistant", "content": ""] as [String: Any] : ""
            return json(line)
        }
        guard model.canGenerate else { return error(400, "\"\(name)\" does not support \(chat ? "chat" : "generate")") }
        let numCtx = Self.numCtx(body)
        if isEmpty {
            _ = await state.ensureLoaded(model, numCtx: numCtx)
            var line: [String: Any] = ["model": name, "created_at": timestamp(Date()), "done": true]
            line[chat ? "message" : "response"] = chat ? ["role": "assistant", "content": ""] as [String: Any] : ""
            line["done_reason"] = "load"
            return json(line)
        }

        let stream = (body["stream"] as? Bool) ?? true
        let count = ((body["options"] as? [String: Any])?["num_predict"] as? Int) ?? 9
        let words = await state.replyWords
        // Offered tools, the fake calls the first one, with no arguments, as a model that wants it would.
        let tool = chat ? ((body["tools"] as? [[String: Any]])?.first?["function"] as? [String: Any])?["name"] as? String : nil
        let tokens = tool == nil ? (0..<max(1, min(count, 10_000))).map { words[$0 % words.count] } : [""]
        let state = self.state
        let delay = await state.tokenDelay
        let linesPerWrite = await state.linesPerWrite
        await state.generationStarted()
        let loadTime = await state.ensureLoaded(model, numCtx: numCtx)
        let reply = ReplyLines(model: name, chat: chat, tokenCount: tokens.count, loadTime: loadTime, started: Date(), tool: tool)
        if !stream {
            for index in tokens.indices where index > 0 {
                await state.waitWhilePaused()
                try? await Task.sleep(for: delay)
            }
            await state.generationEnded(completed: true)
            if Self.isZero(body["keep_alive"]) { await state.unload(model.name) }
            return json(reply.final(tokens.joined(), callingTool: true))
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/x-ndjson"],
            body: ResponseBody { writer in
                var sent = ByteBuffer()
                // Each line is a chunk of its own; `linesPerWrite` of them go out in one flush.
                var unsent: [ByteBuffer] = []
                do {
                    for (index, token) in tokens.enumerated() {
                        if index > 0 {
                            await state.waitWhilePaused()
                            try await Task.sleep(for: delay)
                        }
                        var line = ndjson(reply.chunk(token))
                        unsent.append(line)
                        if unsent.count == linesPerWrite {
                            try await writer.write(contentsOf: unsent)
                            unsent.removeAll(keepingCapacity: true)
                        }
                        sent.writeBuffer(&line)
                    }
                    var line = ndjson(reply.final(""))
                    unsent.append(line)
                    try await writer.write(contentsOf: unsent)
                    sent.writeBuffer(&line)
                    await state.recordSentBody(String(buffer: sent))
                } catch {
                    await state.generationEnded(completed: false)
                    throw error
                }
                await state.generationEnded(completed: true)
                if keepAliveZero { await state.unload(model.name) }
                try await writer.finish(nil)
            }
        )
    }

    private func embed(_ request: Request, legacy: Bool) async throws -> Response {
        let body = try await object(request)
        let name = (body["model"] as? String) ?? ""
        guard let model = await state.model(named: name) else {
            return error(404, "model \"\(name)\" not found, try pulling it first")
        }
        guard model.canEmbed else { return error(500, "this model does not support embeddings") }
        await state.embeddingStarted()
        let loadTime = await state.ensureLoaded(model, numCtx: Self.numCtx(body))
        await state.embeddingEnded()
        if Self.isZero(body["keep_alive"]) { await state.unload(model.name) }
        if legacy {
            let prompt = (body["prompt"] as? String) ?? ""
            return json(["embedding": prompt.isEmpty ? [] : Self.vector(for: prompt)])
        }
        let inputs: [String] = (body["input"] as? [String]) ?? ((body["input"] as? String).map { $0.isEmpty ? [] : [$0] } ?? [])
        return json([
            "model": name, "embeddings": inputs.map(Self.vector(for:)),
            "total_duration": 14_143_917 + Int(loadTime.nanoseconds), "load_duration": Int(loadTime.nanoseconds),
            "prompt_eval_count": inputs.count * 8,
        ])
    }

    private func openAIModels() async -> Response {
        let models = await state.models.map { ["id": $0.name, "object": "model", "created": 1_746_380_264, "owned_by": "library"] as [String: Any] }
        return json(["object": "list", "data": models])
    }

    /// `/v1/chat/completions` and `/v1/completions`: the same reply as the native routes, as OpenAI's chunks.
    private func openAIGenerate(_ request: Request, chat: Bool) async throws -> Response {
        let body = try await object(request)
        let name = (body["model"] as? String) ?? ""
        guard let model = await state.model(named: name), model.canGenerate else {
            return openAIError(404, "model \"\(name)\" not found, try pulling it first")
        }
        let stream = (body["stream"] as? Bool) ?? false
        let usage = (body["stream_options"] as? [String: Any])?["include_usage"] as? Bool ?? false
        let tokens = await reply(model, tokens: (body["max_tokens"] as? Int) ?? 9)
        let id = "chatcmpl-\(UUID().uuidString.prefix(8))"
        let object = chat ? "chat.completion" : "text_completion"
        let counts: [String: Any] = ["prompt_tokens": 26, "completion_tokens": tokens.count, "total_tokens": 26 + tokens.count]
        func choice(_ text: String?, finish: String?, whole: Bool) -> [String: Any] {
            var choice: [String: Any] = ["index": 0, "finish_reason": finish ?? NSNull()]
            if chat {
                let content: [String: Any] = text.map { ["role": "assistant", "content": $0] } ?? [:]
                choice[whole ? "message" : "delta"] = content
            } else {
                choice["text"] = text ?? ""
            }
            return choice
        }
        if !stream {
            await wholeReply(tokens)
            return json([
                "id": id, "object": object, "created": 1_746_380_264, "model": name,
                "choices": [choice(tokens.joined(), finish: "stop", whole: true)], "usage": counts,
            ])
        }
        func event(_ payload: [String: Any]) throws -> ByteBuffer {
            var buffer = ByteBuffer(string: "data: ")
            buffer.writeBytes(try JSONSerialization.data(withJSONObject: payload))
            buffer.writeString("\n\n")
            return buffer
        }
        func chunk(_ choices: [[String: Any]]) -> [String: Any] {
            ["id": id, "object": object + ".chunk", "created": 1_746_380_264, "model": name, "choices": choices]
        }
        // Rendered before the body is written: the events are values, the pacing happens between the tokens'.
        let tokenEvents = try tokens.map { try event(chunk([choice($0, finish: nil, whole: false)])) }
        var closing = [try event(chunk([choice(nil, finish: "stop", whole: false)]))]
        if usage {
            var last = chunk([])
            last["usage"] = counts
            closing.append(try event(last))
        }
        closing.append(ByteBuffer(string: "data: [DONE]\n\n"))
        return paced(tokenEvents, then: closing)
    }

    /// A server-sent event stream: `events` one per token at the fake's pace (and held while it is paused), then
    /// `ending` at once.
    private func paced(_ events: [ByteBuffer], then ending: [ByteBuffer]) -> Response {
        let state = self.state
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream"],
            body: ResponseBody { writer in
                let delay = await state.tokenDelay
                do {
                    for (index, token) in events.enumerated() {
                        if index > 0 {
                            await state.waitWhilePaused()
                            try await Task.sleep(for: delay)
                        }
                        try await writer.write(token)
                    }
                    for buffer in ending { try await writer.write(buffer) }
                } catch {
                    await state.generationEnded(completed: false)
                    throw error
                }
                await state.generationEnded(completed: true)
                try await writer.finish(nil)
            }
        )
    }

    /// A reply of `count` tokens (at least one) once the model is loaded: what every generation route writes.
    private func reply(_ model: FakeModel, tokens count: Int) async -> [String] {
        let words = await state.replyWords
        await state.generationStarted()
        _ = await state.ensureLoaded(model, numCtx: nil)
        return (0..<max(1, min(count, 10_000))).map { words[$0 % words.count] }
    }

    /// Waits out a whole (not streamed) reply at the fake's pace.
    private func wholeReply(_ tokens: [String]) async {
        let delay = await state.tokenDelay
        for index in tokens.indices where index > 0 {
            await state.waitWhilePaused()
            try? await Task.sleep(for: delay)
        }
        await state.generationEnded(completed: true)
    }

    /// `/v1/messages`, as Anthropic's API answers: a `message` object, or its event stream.
    private func messages(_ request: Request) async throws -> Response {
        let body = try await object(request)
        let name = (body["model"] as? String) ?? ""
        guard let model = await state.model(named: name), model.canGenerate else {
            let error: [String: Any] = ["type": "not_found_error", "message": "model '\(name)' not found"]
            return json(["type": "error", "error": error], status: .notFound)
        }
        guard let maxTokens = body["max_tokens"] as? Int, maxTokens > 0 else {
            return json(["type": "error", "error": ["type": "invalid_request_error", "message": "max_tokens: field required"] as [String: Any]], status: .badRequest)
        }
        let tokens = await reply(model, tokens: maxTokens)
        let id = "msg_fake\(tokens.count)"
        guard (body["stream"] as? Bool) ?? false else {
            await wholeReply(tokens)
            return json([
                "id": id, "type": "message", "role": "assistant", "model": name, "content": [["type": "text", "text": tokens.joined()]],
                "stop_reason": "end_turn", "stop_sequence": NSNull(), "usage": ["input_tokens": 26, "output_tokens": tokens.count],
            ])
        }
        func event(_ type: String, _ payload: [String: Any]) throws -> ByteBuffer {
            var buffer = ByteBuffer(string: "event: \(type)\ndata: ")
            var payload = payload
            payload["type"] = type
            buffer.writeBytes(try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys]))
            buffer.writeString("\n\n")
            return buffer
        }
        let start: [String: Any] = [
            "id": id, "type": "message", "role": "assistant", "model": name, "content": [Any](), "stop_reason": NSNull(), "stop_sequence": NSNull(),
            "usage": ["input_tokens": 26, "output_tokens": 0],
        ]
        let opening = [
            try event("message_start", ["message": start]),
            try event("content_block_start", ["index": 0, "content_block": ["type": "text", "text": ""]]),
        ]
        var deltas = try tokens.map { try event("content_block_delta", ["index": 0, "delta": ["type": "text_delta", "text": $0]]) }
        deltas[0] = concatenated(opening + [deltas[0]])
        return paced(deltas, then: [
            try event("content_block_stop", ["index": 0]),
            try event("message_delta", ["delta": ["stop_reason": "end_turn", "stop_sequence": NSNull()], "usage": ["output_tokens": tokens.count]]),
            try event("message_stop", [:]),
        ])
    }

    /// `/v1/responses`, as OpenAI's Responses API answers: a `response` object, or its event stream.
    private func responses(_ request: Request) async throws -> Response {
        let body = try await object(request)
        let name = (body["model"] as? String) ?? ""
        guard let model = await state.model(named: name), model.canGenerate else {
            return openAIError(404, "model \"\(name)\" not found, try pulling it first")
        }
        let tokens = await reply(model, tokens: (body["max_output_tokens"] as? Int) ?? 9)
        func response(status: String, text: String?) -> [String: Any] {
            let output: [[String: Any]] = text.map { text in
                [[
                    "type": "message", "id": "msg_fake", "status": "completed", "role": "assistant",
                    "content": [["type": "output_text", "text": text, "annotations": [Any]()]],
                ]]
            } ?? []
            return [
                "id": "resp_fake\(tokens.count)", "object": "response", "created_at": 1_746_380_264, "status": status, "model": name, "output": output,
                "usage": ["input_tokens": 26, "output_tokens": tokens.count, "total_tokens": 26 + tokens.count],
            ]
        }
        guard (body["stream"] as? Bool) ?? false else {
            await wholeReply(tokens)
            return json(response(status: "completed", text: tokens.joined()))
        }
        var sequence = 0
        func event(_ type: String, _ payload: [String: Any]) throws -> ByteBuffer {
            var payload = payload
            payload["type"] = type
            payload["sequence_number"] = sequence
            sequence += 1
            var buffer = ByteBuffer(string: "event: \(type)\ndata: ")
            buffer.writeBytes(try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys]))
            buffer.writeString("\n\n")
            return buffer
        }
        var deltas: [ByteBuffer] = []
        let created = try event("response.created", ["response": response(status: "in_progress", text: nil)])
        for (index, token) in tokens.enumerated() {
            let delta = try event("response.output_text.delta", ["item_id": "msg_fake", "output_index": 0, "content_index": 0, "delta": token])
            deltas.append(index == 0 ? concatenated([created, delta]) : delta)
        }
        return paced(deltas, then: [try event("response.completed", ["response": response(status: "completed", text: tokens.joined())])])
    }

    private func openAIEmbed(_ request: Request) async throws -> Response {
        let body = try await object(request)
        let name = (body["model"] as? String) ?? ""
        guard let model = await state.model(named: name), model.canEmbed else {
            return openAIError(404, "model \"\(name)\" not found, try pulling it first")
        }
        await state.embeddingStarted()
        _ = await state.ensureLoaded(model, numCtx: nil)
        await state.embeddingEnded()
        let inputs: [String] = (body["input"] as? [String]) ?? ((body["input"] as? String).map { [$0] } ?? [])
        let data = inputs.enumerated().map { ["object": "embedding", "index": $0.offset, "embedding": Self.vector(for: $0.element)] as [String: Any] }
        return json(["object": "list", "data": data, "model": name, "usage": ["prompt_tokens": inputs.count * 8, "total_tokens": inputs.count * 8]])
    }

    private func openAIError(_ status: Int, _ message: String) -> Response {
        json(["error": ["message": message, "type": "invalid_request_error", "param": NSNull(), "code": NSNull()] as [String: Any]], status: .init(code: status))
    }

    /// A deterministic, L2-normalised 8-dimensional vector for `text`.
    static func vector(for text: String) -> [Double] {
        var values = (0..<8).map { index in Double(text.utf8.reduce(index + 1) { ($0 &* 31 &+ Int($1)) % 1009 }) - 504 }
        let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 { values = values.map { $0 / norm } }
        return values
    }

    /// The `num_ctx` a request asks for (`nil`: the default), which a loaded runner must match.
    static func numCtx(_ body: [String: Any]) -> Int? {
        ((body["options"] as? [String: Any])?["num_ctx"] as? NSNumber)?.intValue
    }

    static func isZero(_ keepAlive: Any?) -> Bool {
        switch keepAlive {
        case let number as NSNumber: number.doubleValue == 0
        case let text as String: text == "0" || text == "0s" || text == "0m"
        default: false
        }
    }

    private func object(_ request: Request) async throws -> [String: Any] {
        var request = request
        let body = try await request.collectBody(upTo: 64 << 20)
        return ((try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]) ?? [:]
    }

    private func details(_ model: FakeModel) -> [String: Any] {
        [
            "parent_model": "", "format": "gguf", "family": model.family, "families": [model.family],
            "parameter_size": "3.2B", "quantization_level": "Q4_K_M",
        ]
    }
}

/// The lines of one fake reply, in Ollama's chat or generate shape.
struct ReplyLines: Sendable {
    let model: String
    let chat: Bool
    let tokenCount: Int
    let loadTime: Duration
    let started: Date
    /// The tool the reply calls instead of answering in words.
    var tool: String?

    func chunk(_ token: String, callingTool: Bool = true) -> [String: Any] {
        var line: [String: Any] = ["model": model, "created_at": timestamp(Date()), "done": false]
        guard chat else {
            line["response"] = token
            return line
        }
        var message: [String: Any] = ["role": "assistant", "content": token]
        if let tool, callingTool { message["tool_calls"] = [["function": ["name": tool, "arguments": [String: Any]()]]] }
        line["message"] = message
        return line
    }

    /// The last line: a streamed reply's has no content (and no tool call: that went in its own line).
    func final(_ content: String, callingTool: Bool = false) -> [String: Any] {
        var line = chunk(content, callingTool: callingTool)
        let elapsed = Date().timeIntervalSince(started) * 1e9
        line["done"] = true
        line["done_reason"] = "stop"
        if !chat { line["context"] = [1, 2, 3] }
        line["total_duration"] = Int(elapsed + loadTime.nanoseconds)
        line["load_duration"] = Int(loadTime.nanoseconds)
        line["prompt_eval_count"] = 26
        line["prompt_eval_duration"] = 1_000_000
        line["eval_count"] = tokenCount
        line["eval_duration"] = Int(elapsed)
        return line
    }
}

extension Response {
    /// The same streamed response, cut after `tokens` lines by an `{"error"}` line (Ollama's mid-stream failure),
    /// or, with `drop`, by closing the connection (a server that restarts mid-stream).
    fileprivate func breakingAfter(_ tokens: Int, _ message: String, drop: Bool, channel: any Channel) -> Response {
        var response = self
        let original = self.body
        response.body = ResponseBody { writer in
            let collector = LineCollector()
            try await original.write(collector)
            for line in await collector.lines.prefix(tokens) { try await writer.write(line) }
            if drop {
                try await channel.close()
                throw CancellationError()
            }
            try await writer.write(ndjson(["error": message]))
            try await writer.finish(nil)
        }
        return response
    }
}

/// Collects a response body's lines (used only to cut a stream for an injected failure).
private actor LineCollector: ResponseBodyWriter {
    var lines: [ByteBuffer] = []
    func write(_ buffer: ByteBuffer) async throws { lines.append(buffer) }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

func ndjson(_ object: [String: Any]) -> ByteBuffer {
    var buffer = ByteBuffer(bytes: (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8))
    buffer.writeString("\n")
    return buffer
}

func error(_ status: Int, _ message: String) -> Response {
    json(["error": message], status: .init(code: status))
}

func timestamp(_ date: Date) -> String {
    date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: true).timeSeparator(.colon).timeZone(separator: .omitted))
}

extension Duration {
    var nanoseconds: Double { Double(components.seconds) * 1e9 + Double(components.attoseconds) / 1e9 }
}

/// The buffers one after another, as one.
func concatenated(_ buffers: [ByteBuffer]) -> ByteBuffer {
    var all = ByteBuffer()
    for var buffer in buffers { all.writeBuffer(&buffer) }
    return all
}
