/// Which jobs a listing wants: every field set must match.
public struct JobFilter: Sendable, Equatable {
    public var state: JobState?
    public var kind: JobKind?
    public var origin: JobOrigin?
    /// Only the jobs of this key (ADR 0022).
    public var owner: String?

    public init(state: JobState? = nil, kind: JobKind? = nil, origin: JobOrigin? = nil, owner: String? = nil) {
        self.state = state
        self.kind = kind
        self.origin = origin
        self.owner = owner
    }

    /// Whether `job` is one the listing wants.
    public func matches(_ job: Job) -> Bool {
        (state.map { $0 == job.state } ?? true) && (kind.map { $0 == job.kind } ?? true) && (origin.map { $0 == job.origin } ?? true)
            && (owner.map { $0 == job.owner } ?? true)
    }
}
