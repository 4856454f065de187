import ForemanDomain
import Foundation

/// A validated `POST /jobs` body: what ``JobService/submit(_:body:idempotencyKey:)`` needs to make the job. The HTTP
/// surface parses it.
public struct JobSubmission: Sendable, Equatable {
    public var kind: JobKind
    /// The native request, byte for byte as the caller wrote it.
    public var request: Data
    /// The inner request's model, as its native endpoint reads it.
    public var model: String
    /// Whether the inner request asks for a stream.
    public var stream: Bool
    public var stateWebhookURL: String?
    public var priority: Int
    /// The caller's metadata object, byte for byte.
    public var metadata: String?

    public init(
        kind: JobKind, request: Data, model: String, stream: Bool, stateWebhookURL: String? = nil, priority: Int = 0, metadata: String? = nil
    ) {
        self.kind = kind
        self.request = request
        self.model = model
        self.stream = stream
        self.stateWebhookURL = stateWebhookURL
        self.priority = priority
        self.metadata = metadata
    }
}
