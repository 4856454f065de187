/// Which queued jobs one provider's worker may claim (ADR 0017): in a fleet, the jobs bound to it and the unbound ones
/// for a model it has; alone, every job.
public struct ClaimScope: Sendable, Equatable {
    /// The provider's name; a claimed job records it as the provider it ran on.
    public var provider: String
    /// Every spelling of every model the provider lists (`llama3.2` and `llama3.2:latest` alike), so a bare job
    /// matches whichever its caller wrote; `nil` when the provider is alone and may claim every job.
    public var models: Set<String>?

    public init(provider: String, models: Set<String>?) {
        self.provider = provider
        self.models = models
    }

    /// Whether the worker may take `job`.
    public func admits(_ job: Job) -> Bool {
        guard let models else { return true }
        if let bound = job.provider { return bound == provider }
        return models.contains(job.model)
    }
}
