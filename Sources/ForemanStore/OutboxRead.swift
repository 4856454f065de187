import Foundation

/// What one read of the webhook outbox found.
public struct OutboxRead: Sendable {
    public var deliveries: [WebhookDelivery] = []
    /// Endpoints of events written since the last read.
    public var newEndpoints: Set<String> = []
    /// Endpoints asked about that have no pending event left.
    public var drained: [String] = []
    public var seenThrough: Int64

    public init(deliveries: [WebhookDelivery], newEndpoints: Set<String>, drained: [String], seenThrough: Int64) {
        self.deliveries = deliveries
        self.newEndpoints = newEndpoints
        self.drained = drained
        self.seenThrough = seenThrough
    }
}
