import ForemanDomain
import Foundation
import NIOCore

/// An OpenAI-compatible engine (llama.cpp's `llama-server`, llama-swap, vLLM) seen as an Ollama target, for
/// providers of the `openai` kind (ADR 0017): native chat calls go out as `/v1/chat/completions` and their answers
/// come back in Ollama's shapes, streamed line by line as the engine's events arrive; the model list comes from
/// `/v1/models`.
///
/// `engine` is the HTTP client at the engine's address; this type only translates.
public struct OpenAIEngineTarget: OllamaTarget {
    let engine: any OllamaTarget
    /// The largest whole (non-streamed) answer or model list read from the engine.
    let maxAnswerBytes: Int

    public init(engine: any OllamaTarget, maxAnswerBytes: Int = 32 << 20) {
        self.engine = engine
        self.maxAnswerBytes = maxAnswerBytes
    }

    public func send(_ request: TargetRequest) async throws -> TargetResponse {
        switch (request.method, request.path) {
        case (.POST, "/api/chat"): try await chat(request.body ?? ByteBuffer())
        case (.GET, "/api/tags"): try await tags()
        default: Self.answer(status: 501, error: "\(request.method.rawValue) \(request.path) is not served by an OpenAI-compatible provider")
        }
    }

    public func eventLoop(near current: (any EventLoop)?) -> (any EventLoop)? {
        engine.eventLoop(near: current)
    }

    private func chat(_ body: ByteBuffer) async throws -> TargetResponse {
        let native = Data(body.readableBytesView)
        let model = ((try? JSONSerialization.jsonObject(with: native)) as? [String: Any])?["model"] as? String ?? ""
        let translation: OpenAIChatRequest.Translation
        do {
            translation = try OpenAIChatRequest.translate(native, model: model)
        } catch {
            return Self.answer(status: 400, error: "invalid request body: \(error)")
        }
        let response = try await engine.send(TargetRequest(method: .POST, path: "/v1/chat/completions", body: ByteBuffer(bytes: translation.body)))
        guard response.isSuccess else { return try await engineError(response, model: model) }
        guard translation.stream else {
            let whole = try await response.body.collect(upTo: maxAnswerBytes)
            do {
                let object = try OpenAIChatAnswer.object(fromAnswer: Data(whole.readableBytesView), model: model)
                return TargetResponse(status: 200, contentType: "application/json; charset=utf-8", body: TargetBody(buffers: [ByteBuffer(string: object)]))
            } catch {
                return Self.answer(status: 502, error: "the engine's answer could not be read: \(error)")
            }
        }
        return TargetResponse(status: 200, contentType: "application/x-ndjson", body: TargetBody(TranslatedChatStream(events: response.body, model: model)))
    }

    /// The engine's models in `/api/tags`' shape: what the inventory reads.
    private func tags() async throws -> TargetResponse {
        let response = try await engine.send(TargetRequest(method: .GET, path: "/v1/models"))
        guard response.isSuccess else { return try await engineError(response, model: nil) }
        let whole = try await response.body.collect(upTo: maxAnswerBytes)
        let listed = ((try? JSONSerialization.jsonObject(with: Data(whole.readableBytesView))) as? [String: Any])?["data"] as? [[String: Any]]
        guard let listed else { return Self.answer(status: 502, error: "the engine's /v1/models answer has no data list") }
        let models = listed.compactMap { $0["id"] as? String }.map { id -> String in
            var model = JSONObjectWriter()
            model.string("name", id)
            model.string("model", id)
            return model.finished()
        }
        let body = #"{"models":["# + models.joined(separator: ",") + "]}"
        return TargetResponse(status: 200, contentType: "application/json; charset=utf-8", body: TargetBody(buffers: [ByteBuffer(string: body)]))
    }

    /// The engine's error answer in Ollama's shape, `{"error": "…"}`. A model the engine does not have is Ollama's 404.
    private func engineError(_ response: TargetResponse, model: String?) async throws -> TargetResponse {
        let body = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
        let message = object.flatMap(OpenAIChatAnswer.errorMessage) ?? "the engine answered HTTP \(response.status)"
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

/// An engine's streamed chat answer (server-sent events) as Ollama's NDJSON, line by line as the events arrive. An
/// error the engine sends mid-stream ends the stream with Ollama's `{"error": "…"}` line.
struct TranslatedChatStream: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let events: TargetBody
    let model: String

    func makeAsyncIterator() -> Iterator {
        Iterator(events: events.makeAsyncIterator(), answer: OpenAIChatAnswer(model: model))
    }

    struct Iterator: AsyncIteratorProtocol {
        var events: TargetBody.AsyncIterator
        var answer: OpenAIChatAnswer
        var splitter = SSEEventSplitter()
        var ended = false

        init(events: TargetBody.AsyncIterator, answer: OpenAIChatAnswer) {
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
