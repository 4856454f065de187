import ForemanDomain
import Foundation

/// What a read of one job returns: the job, its artifacts, and where it stands in its queue when it is queued.
///
/// A value, not a rendering: each surface renders it in its own shape (``JobDocument`` for `/jobs`), and another
/// store fills it the same way.
public struct JobSnapshot: Sendable, Equatable {
    public var job: Job
    public var artifacts: [ArtifactInfo]
    /// 1-based place in the job's lane while it is queued; `nil` otherwise.
    public var queuePosition: Int?
    /// When it should start, while it is queued and recent run times are known.
    public var estimatedStartAt: Date?

    public init(job: Job, artifacts: [ArtifactInfo] = [], queuePosition: Int? = nil, estimatedStartAt: Date? = nil) {
        self.job = job
        self.artifacts = artifacts
        self.queuePosition = job.state == .queued ? queuePosition : nil
        self.estimatedStartAt = job.state == .queued ? estimatedStartAt : nil
    }
}
