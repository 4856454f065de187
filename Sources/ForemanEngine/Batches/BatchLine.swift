import ForemanDomain
import ForemanTarget
import Foundation

/// One line of a batch's input file, checked as OpenAI checks it (ADR 0020): a request for the batch's endpoint,
/// named by a `custom_id`, whose `body` is kept as written.
public struct BatchLine: Sendable, Equatable {
    public var customID: String
    /// The `body`'s model id, as written.
    public var model: String
    /// The `body` object's bytes, as written.
    public var body: Data

    /// Why a line was refused: OpenAI's error entry, with the 1-based line number.
    public struct Refusal: Error, Sendable, Equatable {
        public var code: String
        public var message: String
        public var param: String?
        public var line: Int?

        public init(code: String, message: String, param: String? = nil, line: Int?) {
            self.code = code
            self.message = message
            self.param = param
            self.line = line
        }

        /// The entry in a batch's `errors.data`.
        public var json: String {
            var writer = JSONObjectWriter()
            writer.string("code", code)
            writer.string("message", message)
            writer.string("param", param)
            writer.int("line", line)
            return writer.finished()
        }
    }

    /// The longest `custom_id` taken, in bytes.
    public static let maxCustomIDBytes = 512

    /// Checks line `number` for a batch whose endpoint is `endpoint`.
    public static func parse(_ line: Data, number: Int, endpoint: String) -> Result<BatchLine, Refusal> {
        func refuse(_ code: String, _ message: String, param: String? = nil) -> Result<BatchLine, Refusal> {
            .failure(Refusal(code: code, message: message, param: param, line: number))
        }
        let bytes = [UInt8](line)
        guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else {
            return refuse("invalid_json_line", "This line is not parseable as valid JSON.")
        }
        guard let customID = object["custom_id"] as? String, !customID.isEmpty else {
            return refuse("missing_required_parameter", "custom_id is required and must be a non-empty string.", param: "custom_id")
        }
        // Every custom_id of a batch is held during validation: a bound keeps 50,000 of them small.
        guard customID.utf8.count <= maxCustomIDBytes else {
            return refuse("invalid_request", "custom_id is longer than \(maxCustomIDBytes) bytes.", param: "custom_id")
        }
        guard let method = object["method"] as? String, method.uppercased() == "POST" else {
            return refuse("invalid_method", "method must be POST.", param: "method")
        }
        guard let url = object["url"] as? String, url == endpoint else {
            return refuse("mismatched_endpoint", "The url of this request does not match the batch's endpoint, \(endpoint).", param: "url")
        }
        guard let body = object["body"] as? [String: Any], let range = RawJSONFields.ranges(["body"], in: bytes)["body"] else {
            return refuse("missing_required_parameter", "body is required and must be an object.", param: "body")
        }
        guard let model = body["model"] as? String, !model.isEmpty else {
            return refuse("missing_required_parameter", "body.model is required.", param: "body.model")
        }
        if body["stream"] as? Bool == true {
            return refuse("invalid_request", "stream is not supported in a batch.", param: "body.stream")
        }
        // The same checks a call to the endpoint gets, so a line that would be refused there is refused here, with
        // its words, before any job exists.
        do {
            switch Batch.endpoints[endpoint] {
            case .chat: _ = try OpenAICallAsNative.chat(body, model: model)
            case .generate: _ = try OpenAICallAsNative.completion(body, model: model)
            default: _ = try OpenAICallAsNative.embeddings(body, model: model)
            }
        } catch {
            return refuse("invalid_request", "\(error)", param: "body")
        }
        return .success(BatchLine(customID: customID, model: model, body: Data(bytes[range])))
    }
}
