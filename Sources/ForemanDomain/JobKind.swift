/// What a job asks the target to do.
public enum JobKind: String, Codable, Sendable, CaseIterable {
    case chat, generate, embed

    /// The target path that runs this kind of job.
    public var targetPath: String {
        switch self {
        case .chat: "/api/chat"
        case .generate: "/api/generate"
        case .embed: "/api/embed"
        }
    }
}

extension JobKind {
    /// The lane that runs this kind of job.
    public var lane: JobLane { self == .embed ? .embeddings : .generation }
}
