import ForemanEngine
import ForemanTarget
import Foundation
import Hummingbird
import NIOCore

/// How a generation's answer reaches its caller (ADR 0019): the box's lines as they are, or made into the caller's
/// surface's shape. ``QueuedGeneration`` waits, relays and cancels; this only writes.
protocol GenerationAnswer: Sendable {
    /// The surface foreman's own errors are written for.
    var surface: APIError.Surface { get }
    /// The content type of a streamed answer, given the box's.
    func streamContentType(_ upstream: String?) -> String
    /// What one line of the box's stream becomes.
    mutating func streamed(_ line: ByteBuffer) -> [ByteBuffer]
    /// Whether every line of the box's stream is written as it came (``streamed(_:)`` is `[line]`), so a line can be
    /// written without this answer.
    var streamsLinesAsTheyCame: Bool { get }
    /// The last piece of a stream the box broke off with `message`.
    func streamError(_ message: String) -> ByteBuffer
    /// A whole successful answer, as the caller's body and content type.
    func whole(_ body: ByteBuffer, contentType: String?) -> (body: ByteBuffer, contentType: String)
    /// The box's own refusal (a status that is not 2xx), as the caller's body.
    func refusal(_ body: ByteBuffer, status: Int) -> ByteBuffer
}

/// The box's answer relayed as it sent it: native calls, OpenAI calls on an OpenAI-compatible engine, and the calls
/// relayed to any box (`/v1/messages`, `/v1/responses`).
struct RelayedAnswer: GenerationAnswer {
    let surface: APIError.Surface

    func streamContentType(_ upstream: String?) -> String {
        upstream ?? (surface == .ollama ? "application/x-ndjson" : "text/event-stream")
    }

    func streamed(_ line: ByteBuffer) -> [ByteBuffer] { [line] }

    var streamsLinesAsTheyCame: Bool { true }

    func streamError(_ message: String) -> ByteBuffer {
        switch surface {
        case .ollama: JSONLine.error(message, newline: true)
        case .openAI: ByteBuffer(string: NativeAnswerAsOpenAI.errorEvent(message))
        case .anthropic: AnthropicError.event(message)
        }
    }

    func whole(_ body: ByteBuffer, contentType: String?) -> (body: ByteBuffer, contentType: String) {
        (body, contentType ?? "application/json; charset=utf-8")
    }

    func refusal(_ body: ByteBuffer, status: Int) -> ByteBuffer { body }
}

/// An OpenAI call answered by an Ollama box: each native line made into OpenAI's events, a whole answer into its
/// completion object, a refusal into its error object.
struct OpenAIAnswerFromNative: GenerationAnswer {
    var converter: NativeAnswerAsOpenAI
    var surface: APIError.Surface { .openAI }

    func streamContentType(_ upstream: String?) -> String { "text/event-stream" }

    mutating func streamed(_ line: ByteBuffer) -> [ByteBuffer] {
        converter.events(forLine: Data(line.readableBytesView)).map { ByteBuffer(string: $0) }
    }

    var streamsLinesAsTheyCame: Bool { false }

    func streamError(_ message: String) -> ByteBuffer {
        ByteBuffer(string: NativeAnswerAsOpenAI.errorEvent(message))
    }

    func whole(_ body: ByteBuffer, contentType: String?) -> (body: ByteBuffer, contentType: String) {
        guard let object = converter.whole(Data(body.readableBytesView)) else {
            return (ByteBuffer(bytes: NativeAnswerAsOpenAI.error(status: 502, message: "the box's answer could not be read")), "application/json")
        }
        return (ByteBuffer(bytes: object), "application/json")
    }

    func refusal(_ body: ByteBuffer, status: Int) -> ByteBuffer {
        let message = ResponseAssembler.errorMessage(in: body) ?? "the box answered HTTP \(status)"
        return ByteBuffer(bytes: NativeAnswerAsOpenAI.error(status: status, message: message))
    }
}
