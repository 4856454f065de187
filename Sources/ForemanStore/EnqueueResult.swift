import ForemanDomain

/// What ``enqueue(_:idempotencyKey:fingerprint:)`` did.
public enum EnqueueResult: Sendable {
    /// A new job, and where it stood in its lane when it was committed.
    case created(Job, JobPlacement)
    /// The idempotency key was seen before with the same body: this is the original job.
    case existing(Job)
}
