import ForemanDomain
import ForemanTarget
import Foundation

/// The line a finished batch job leaves in its batch's output file or error file, in OpenAI's shape (ADR 0020).
public enum BatchResultLine {
    /// Which of the batch's two files a line goes to.
    public enum File: Sendable { case output, errors }

    /// `job`'s line, and its file. `boxKind` is the kind of provider that ran it (its answer is OpenAI's own on an
    /// OpenAI-compatible engine, else native); `batch` tells why an unfinished job was cancelled.
    public static func of(_ job: Job, boxKind: ProviderKind?, batch: Batch) -> (file: File, line: String) {
        let id = "batch_req_" + job.id.dropFirst("job_".count).lowercased()
        if job.state == .succeeded, let response = job.response, let body = openAIBody(job, response: response, boxKind: boxKind) {
            var answer = JSONObjectWriter()
            answer.int("status_code", 200)
            answer.string("request_id", job.id)
            answer.raw("body", String(decoding: body, as: UTF8.self))
            return (.output, line(id: id, customID: job.customID, response: answer.finished(), error: nil))
        }
        let (code, message): (String, String) = switch job.state {
        case .succeeded: ("request_failed", "the box's answer could not be read")
        case .cancelled where batch.cancellingAt != nil: ("batch_cancelled", "The batch was cancelled before this request ran.")
        case .cancelled where job.error == BatchRunner.expiredError: ("batch_expired", "The batch expired before this request ran.")
        case .cancelled: ("request_cancelled", job.error ?? "cancelled")
        default: ("request_failed", job.error ?? "failed")
        }
        var error = JSONObjectWriter()
        error.string("code", code)
        error.string("message", message)
        return (.errors, line(id: id, customID: job.customID, response: nil, error: error.finished()))
    }

    private static func line(id: String, customID: String?, response: String?, error: String?) -> String {
        var writer = JSONObjectWriter()
        writer.string("id", id)
        writer.string("custom_id", customID)
        writer.raw("response", response)
        writer.raw("error", error)
        return writer.finished()
    }

    /// The answer as OpenAI's endpoint writes it, named by the model id the line used.
    private static func openAIBody(_ job: Job, response: Data, boxKind: ProviderKind?) -> Data? {
        switch job.kind {
        case .embed:
            let request = (try? JSONSerialization.jsonObject(with: job.request)) as? [String: Any] ?? [:]
            return NativeAnswerAsOpenAI.embeddings(response, model: job.modelID, base64: OpenAICallAsNative.wantsBase64(request))
        case .chat, .generate:
            if boxKind == .openai { return response }
            return NativeAnswerAsOpenAI(shape: job.kind == .chat ? .chat : .completion, model: job.modelID, includeUsage: false).whole(response)
        case .messages, .responses:
            return response
        }
    }
}
