/// Which surface created a job: the native Ollama API (`api`), the asynchronous `/jobs` API (`jobs`), OpenAI's API
/// (`openai`) or a line of an OpenAI batch (`batch`).
public enum JobOrigin: String, Codable, Sendable, CaseIterable {
    /// A native Ollama call (`/api/chat`, `/api/generate`).
    case api
    /// A `/jobs` submission.
    case jobs
    /// A call to OpenAI's API (`/v1/chat/completions`, `/v1/completions`; ADR 0019).
    case openai
    /// A line of a `/v1/batches` batch (ADR 0020).
    case batch

    /// Whether a caller waits for the job on a connection: it is then held in its worker's memory until it ends, and
    /// its row is written behind it (ADR 0016).
    public var isInteractive: Bool { self == .api || self == .openai }

    /// How this origin's state changes reach the disk (ADR 0010): a `/jobs` job is promised to survive a power
    /// cut; a native job's caller waits on a connection that a power cut ends anyway, so its record need not.
    public var transitionDurability: Durability { isInteractive ? .deferred : .full }
}
