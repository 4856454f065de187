import ForemanDomain
import Foundation

/// An engine's `/v1/embeddings` answer as Ollama's `/api/embed` answer (ADR 0017): the vectors in input order, and
/// the prompt's token count when the engine sent `usage`.
public enum OpenAIEmbeddings {
    public static func object(fromAnswer data: Data, model: String) throws -> String {
        guard let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TranslationError("the embeddings answer is not a JSON object")
        }
        if let message = OpenAIAnswer.errorMessage(answer) { throw TranslationError(message) }
        guard let items = answer["data"] as? [[String: Any]] else { throw TranslationError("the embeddings answer has no data list") }
        var vectors: [(index: Int, json: String)] = []
        for (offset, item) in items.enumerated() {
            guard let vector = item["embedding"] as? [Any] else {
                throw TranslationError("an embedding is not a list of numbers (base64 answers are not asked for)")
            }
            // Written back from the parsed numbers as they are: Foundation's reader on Linux keeps the engine's digits
            // in them, and a round trip through `Double` would change some (the tests compare the text).
            let json = String(decoding: try JSONSerialization.data(withJSONObject: vector), as: UTF8.self)
            vectors.append(((item["index"] as? NSNumber)?.intValue ?? offset, json))
        }
        var object = JSONObjectWriter()
        object.string("model", model)
        object.raw("embeddings", "[" + vectors.sorted { $0.index < $1.index }.map(\.json).joined(separator: ",") + "]")
        if let tokens = ((answer["usage"] as? [String: Any])?["prompt_tokens"] as? NSNumber)?.intValue {
            object.int("prompt_eval_count", tokens)
        }
        return object.finished()
    }
}
