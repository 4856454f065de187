import Foundation

/// The target's answer: status and content type at once, the body as it streams in.
public struct TargetResponse: Sendable {
    public var status: Int
    public var contentType: String?
    /// The `Retry-After` the target sent with the answer, in seconds (a date form is ignored).
    public var retryAfter: Duration?
    public var body: TargetBody

    public init(status: Int, contentType: String?, retryAfter: Duration? = nil, body: TargetBody) {
        self.status = status
        self.contentType = contentType
        self.retryAfter = retryAfter
        self.body = body
    }

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// A `Retry-After` header's value as a delay, when it is a number of seconds.
    public static func retryAfter(_ value: String?) -> Duration? {
        guard let value, let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 else { return nil }
        return .seconds(min(seconds, 3600))
    }
}
