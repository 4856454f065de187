/// Where a job is in its life: `queued` → `running` → `succeeded` | `failed` | `cancelled`.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    /// Whether the job can no longer change.
    public var isTerminal: Bool {
        switch self {
        case .queued, .running: false
        case .succeeded, .failed, .cancelled: true
        }
    }
}
