/// What a job asks the target to do.
public enum JobKind: String, Codable, Sendable, CaseIterable {
    /// Ollama's `/api/chat`, or OpenAI's `/v1/chat/completions`.
    case chat
    /// Ollama's `/api/generate`, or OpenAI's `/v1/completions`.
    case generate
    /// Ollama's `/api/embed`.
    case embed
    /// Anthropic's `/v1/messages`, relayed to a box that serves it (ADR 0019).
    case messages
    /// OpenAI's `/v1/responses`, relayed to a box that serves it (ADR 0019).
    case responses

    /// The kinds a `/jobs` submission may ask for: the native calls.
    public static let submittable: [JobKind] = [.chat, .generate, .embed]

    /// The target path that runs this kind of job when it came in natively (or, for the relayed kinds, at all).
    public var targetPath: String {
        switch self {
        case .chat: "/api/chat"
        case .generate: "/api/generate"
        case .embed: "/api/embed"
        case .messages, .responses: openAIPath
        }
    }

    /// The path of this kind of call in OpenAI's API (Anthropic's, for `messages`), as an OpenAI-compatible box serves it.
    public var openAIPath: String {
        switch self {
        case .chat: "/v1/chat/completions"
        case .generate: "/v1/completions"
        case .embed: "/v1/embeddings"
        case .messages: "/v1/messages"
        case .responses: "/v1/responses"
        }
    }

    /// Whether a call of this kind is relayed byte for byte whatever the box: foreman neither translates it nor
    /// reads its answer.
    public var isRelayed: Bool { self == .messages || self == .responses }
}

extension JobKind {
    /// The lane that runs this kind of job.
    public var lane: JobLane { self == .embed ? .embeddings : .generation }
}
