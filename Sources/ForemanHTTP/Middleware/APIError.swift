import ForemanEngine
import ForemanStore
import ForemanTarget
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1

/// An error answer: a status and Ollama's `{"error": "..."}` body, plus any headers it needs.
struct APIError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        response(for: Surface(path: request.uri.path))
    }

    /// The surface an answer belongs to: each writes its errors in its own shape.
    enum Surface: Sendable {
        /// Ollama's `{"error": "…"}`, and foreman's own routes.
        case ollama
        /// OpenAI's `{"error": {"message", "type", "param", "code"}}` (ADR 0019).
        case openAI
        /// Anthropic's `{"type": "error", "error": {"type", "message"}}`, on `/v1/messages` (ADR 0019).
        case anthropic

        init(path: String) {
            if path == "/v1/messages" || path.hasPrefix("/v1/messages/") {
                self = .anthropic
            } else {
                self = path.hasPrefix("/v1/") ? .openAI : .ollama
            }
        }
    }

    /// The error as a response, outside of a router context, in `surface`'s shape.
    func response(for surface: Surface = .ollama) -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        let body = switch surface {
        case .ollama: JSONLine.error(message, newline: false)
        case .openAI: ByteBuffer(bytes: NativeAnswerAsOpenAI.error(status: Int(status.code), message: message))
        case .anthropic: AnthropicError.body(status: Int(status.code), message: message)
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}

extension APIError {
    /// Ollama's queue-full answer, word for word (two spaces included), with a hint when to retry.
    static let queueFull = APIError(
        .serviceUnavailable,
        "server busy, please try again.  maximum pending requests exceeded",
        headers: [.retryAfter: "5"]
    )

    static let unauthorized = APIError(.unauthorized, "unauthorized", headers: [.wwwAuthenticate: "Bearer"])

    /// The one mapping from any error foreman can throw to the answer the caller gets.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as RequestError:
            return APIError(.init(code: error.status), error.message)
        case JobServiceError.modelNotFound(let model):
            return APIError(.notFound, "model '\(model)' not found")
        case JobStoreError.queueFull, is EmbeddingLane.Busy:
            return .queueFull
        case let error as ModelManagementError:
            return from(error)
        case JobServiceError.overConcurrencyCap(let key, let cap):
            // When one of the key's generations ends is not known: the hint is queue-full's.
            return APIError(
                .tooManyRequests, "concurrency limit: the key '\(key)' may have \(cap) generations queued or running at once",
                headers: [.retryAfter: "5"]
            )
        case KeyStoreError.nameTaken(let name):
            return APIError(.conflict, "a key named '\(name)' exists")
        case JobStoreError.idempotencyKeyReused:
            return APIError(.unprocessableContent, "Idempotency-Key was already used with a different request body")
        case is CancellationError:
            return APIError(.init(code: 499), "request canceled")
        case let error as TargetError:
            return APIError(.badGateway, error.description)
        case let error as TranslationError:
            return APIError(.badRequest, error.description)
        case let error as HTTPParserError:
            // The stream cannot be trusted past a framing error: the answer closes the connection.
            return APIError(.badRequest, "malformed HTTP request: \(error)", headers: [.connection: "close"])
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, "request body too large")
        case let error as HTTPError:
            return APIError(error.status, error.body ?? error.status.reasonPhrase)
        case let error as any HTTPResponseError:
            return APIError(error.status, error.status.reasonPhrase)
        default:
            if let failure = StoreFailure(error) {
                // Nothing was acknowledged: the caller may send it again once the store can write.
                return APIError(.serviceUnavailable, "foreman cannot save work right now: \(failure.description)", headers: [.retryAfter: "10"])
            }
            return APIError(.internalServerError, "internal error: \(error)")
        }
    }
}

extension APIError {
    /// A model-management call refused before it reached a box (ADR 0023).
    static func from(_ error: ModelManagementError) -> APIError {
        switch error {
        case .cannotManage(let provider, let verb):
            APIError(.notImplemented, "provider '\(provider)' is an OpenAI-compatible engine: it cannot \(verb) models")
        case .noProviderManages(let verb):
            APIError(.notImplemented, "no provider here can \(verb) models: they are OpenAI-compatible engines")
        case .chooseProvider(let model, let among):
            APIError(.badRequest, "'\(model)' does not say which provider: name one of \(among.joined(separator: ", ")) as provider/model")
        case .blobNeedsProvider(let among):
            APIError(.badRequest, "a blob goes to one provider: name one of \(among.joined(separator: ", ")) in the X-Foreman-Provider header")
        case .notFound(let model):
            APIError(.notFound, "model '\(model)' not found")
        case .copyAcrossProviders(let source, let destination):
            APIError(.badRequest, "'\(source)' and '\(destination)' are on different providers: a model is copied within one provider")
        case .busy(let model, let provider, let generations):
            APIError(
                .conflict, "model '\(model)' has \(generations) generation\(generations == 1 ? "" : "s") queued or running on provider '\(provider)'; cancel them or wait"
            )
        }
    }
}

/// Small JSON pieces foreman writes itself.
enum JSONLine {
    /// `{"error":"<message>"}`, with a trailing newline when it ends an NDJSON stream.
    static func error(_ message: String, newline: Bool) -> ByteBuffer {
        let data = (try? JSONSerialization.data(withJSONObject: ["error": message], options: [.withoutEscapingSlashes]))
            ?? Data(#"{"error":"internal error"}"#.utf8)
        var buffer = ByteBuffer(bytes: data)
        if newline { buffer.writeString("\n") }
        return buffer
    }

    /// A response carrying JSON text foreman has already written.
    static func response(_ text: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
