import ForemanStore

/// The work in line at one provider (ADR 0023), for `GET /queue`: what runs there now and what waits, in the order
/// it is to run. In a fleet, `/jobs` jobs no provider is chosen for yet wait in a line of their own (`provider` nil).
public struct QueueLine: Sendable {
    public var provider: String?
    public var running: [JobSnapshot]
    /// Native calls waiting in the provider's worker and the store's queued jobs, by their places.
    public var queued: [JobSnapshot]
}
