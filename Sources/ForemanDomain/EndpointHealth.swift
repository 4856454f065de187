import Foundation

/// Whether the webhook outbox may send to one endpoint now, and how many attempts at once (ADR 0015).
///
/// A failed attempt rests the endpoint; when the rest ends one probe goes out, and only a success opens it fully
/// again. Failures of attempts that were already under way when the rest began do not lengthen it: one outage is
/// one failure, however many attempts it cut short.
public struct EndpointHealth: Sendable, Equatable {
    /// Failed rests in a row: the next rest's length grows with it.
    public private(set) var consecutiveFailures = 0
    public private(set) var restingUntil: Date?

    public init() {}

    /// Attempts that may be under way to the endpoint at `now`: none while it rests, one probe after a rest,
    /// `full` while it answers.
    public func allowance(at now: Date, full: Int) -> Int {
        if let restingUntil, now < restingUntil { return 0 }
        return consecutiveFailures == 0 ? full : 1
    }

    /// An attempt was answered with success.
    public mutating func succeeded() {
        consecutiveFailures = 0
        restingUntil = nil
    }

    /// An attempt failed at `now`; `rest` gives the rest's length for a count of failures in a row.
    public mutating func failed(at now: Date, rest: (Int) -> Duration) {
        if let restingUntil, now < restingUntil { return }
        consecutiveFailures += 1
        restingUntil = now.addingTimeInterval(rest(consecutiveFailures).seconds)
    }
}
