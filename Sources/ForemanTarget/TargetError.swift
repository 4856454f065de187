/// How talking to the target went wrong.
public enum TargetError: Error, Equatable, CustomStringConvertible {
    /// No response head arrived: the target is down, unresolvable or too slow. Retrying may help.
    case unreachable(String)
    /// The target accepted the request, then closed the connection without answering. Unlike an unreachable
    /// target, this can be the request's own doing (one that crashes the server), so retries are counted.
    case dropped(String)
    /// The body broke off after the head arrived.
    case interrupted(String)
    /// A body that foreman buffers was larger than it accepts.
    case bodyTooLarge(Int)

    public var description: String {
        switch self {
        case .unreachable(let reason): "ollama target unreachable: \(reason)"
        case .dropped(let reason): "ollama target closed the connection without an answer: \(reason)"
        case .interrupted(let reason): "ollama target stream interrupted: \(reason)"
        case .bodyTooLarge(let limit): "ollama target response larger than \(limit) bytes"
        }
    }

    /// The label of `foreman_target_errors_total` this error counts under.
    public var kind: String {
        switch self {
        case .unreachable: "unreachable"
        case .dropped: "dropped"
        case .interrupted: "interrupted"
        case .bodyTooLarge: "body_too_large"
        }
    }
}

/// Told of each request the target left unanswered (unreachable or dropped), so that whoever builds a client can
/// count them beside it: the client itself keeps no metrics.
public typealias TargetFailureObserver = @Sendable (TargetError) -> Void
