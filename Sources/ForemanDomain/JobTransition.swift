/// A legal change of a job's state: the job's state machine, in one place.
///
/// `queued` → `running` → `succeeded` | `failed` | `cancelled`, with the ways back and around that a queue needs: a
/// running job may return to the queue (foreman stopped under it), a queued one may be cancelled, and a queued
/// native job whose caller died with the previous process is failed without running. Terminal states have no way
/// out. The store records every change as one of these and refuses any other.
public enum JobTransition: Sendable, Hashable, CaseIterable {
    /// A new job enters the queue.
    case submit
    /// The worker takes a queued job.
    case claim
    /// The run ended with an answer.
    case succeed
    /// The run ended with an error.
    case fail
    /// The run was cancelled (by its caller, or because its caller left).
    case cancelRunning
    /// The job was cancelled before it ran.
    case cancelQueued
    /// The job failed before it ran: nobody waits for it any more (a native call whose caller died with the
    /// previous process).
    case abandon
    /// The running job goes back to its place in the queue (foreman stopped under it).
    case requeue

    /// The state a job leaves; `nil` for a new job.
    public var from: JobState? {
        switch self {
        case .submit: nil
        case .claim, .cancelQueued, .abandon: .queued
        case .succeed, .fail, .cancelRunning, .requeue: .running
        }
    }

    /// The state a job enters.
    public var to: JobState {
        switch self {
        case .submit, .requeue: .queued
        case .claim: .running
        case .succeed: .succeeded
        case .fail, .abandon: .failed
        case .cancelRunning, .cancelQueued: .cancelled
        }
    }

    /// The transition from `old` (nil: a new job) to `new`, or `nil` when the state machine has none.
    public init?(from old: JobState?, to new: JobState) {
        guard let transition = Self.allCases.first(where: { $0.from == old && $0.to == new }) else { return nil }
        self = transition
    }
}

/// A state change the state machine does not have (see ``JobTransition``): a bug in foreman, refused before it
/// reaches the table.
public struct IllegalTransition: Error, CustomStringConvertible {
    public var jobID: String
    public var from: JobState?
    public var to: JobState

    public init(jobID: String, from: JobState?, to: JobState) {
        self.jobID = jobID
        self.from = from
        self.to = to
    }

    public var description: String { "job \(jobID) cannot go from \(from?.rawValue ?? "nothing") to \(to.rawValue)" }
}
