import ForemanDomain
import ForemanTarget
import Foundation
import NIOCore

/// The request a job sends to its box: the path and the body, chosen by the job's surface and the box's kind.
///
/// - A native or `/jobs` job goes to its native path, as the caller wrote it; a `provider/model` id's body gets the
///   box's model name (ADR 0017).
/// - An OpenAI call goes to an Ollama box as the native call that does its work, and to an OpenAI-compatible engine
///   as it is, to the engine's own `/v1` path (ADR 0019). `/v1/messages` and `/v1/responses` go as they are to any box.
/// - A batch line (ADR 0020) goes as an OpenAI call does, but its embeddings always as a native body.
enum OutboundRequest {
    static func make(for job: Job, on kind: ProviderKind) throws -> TargetRequest {
        switch (job.origin, kind) {
        case (.openai, _) where job.kind.isRelayed:
            return TargetRequest(method: .POST, path: job.kind.openAIPath, body: callerBody(job))
        case (.batch, _) where job.kind == .embed:
            // The embeddings lane takes a native body whatever the box, and translates it for an engine itself.
            return TargetRequest(method: .POST, path: job.kind.targetPath, body: ByteBuffer(bytes: try OpenAICallAsNative.embeddings(job.request, model: job.model)))
        case (.openai, .ollama), (.batch, .ollama):
            let body = try job.preparedRequest
                ?? (job.kind == .chat
                    ? OpenAICallAsNative.chat(job.request, model: job.model)
                    : OpenAICallAsNative.completion(job.request, model: job.model))
            return TargetRequest(method: .POST, path: job.kind.targetPath, body: ByteBuffer(bytes: body))
        case (.openai, .openai), (.batch, .openai):
            return TargetRequest(method: .POST, path: job.kind.openAIPath, body: callerBody(job))
        case (.api, _), (.jobs, _):
            return TargetRequest(method: .POST, path: job.kind.targetPath, body: callerBody(job))
        }
    }

    /// The caller's body, with the box's model name when the id named a provider; byte for byte otherwise.
    private static func callerBody(_ job: Job) -> ByteBuffer {
        var buffer = ByteBuffer()
        if job.provider == nil { buffer.writeBytes(job.request) } else { buffer.writeBytes(ModelField.replacing(in: job.request, with: job.model)) }
        return buffer
    }
}
