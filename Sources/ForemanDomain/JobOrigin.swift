/// Which surface created a job: the native Ollama API (`api`) or the asynchronous `/jobs` API (`jobs`).
public enum JobOrigin: String, Codable, Sendable, CaseIterable {
    case api, jobs

    /// How this origin's state changes reach the disk (ADR 0010): a `/jobs` job is promised to survive a power
    /// cut; a native job's caller waits on a connection that a power cut ends anyway, so its record need not.
    public var transitionDurability: Durability { self == .jobs ? .full : .deferred }
}
