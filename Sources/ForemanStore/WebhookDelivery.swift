import ForemanDomain
import Foundation
import GRDB

/// One webhook event waiting in (or gone through) the outbox.
public struct WebhookDelivery: Sendable, Equatable, Codable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "webhook_delivery"

    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy { DatabaseDate.encoding }
    public static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy { DatabaseDate.decoding }

    public enum State: String, Codable, Sendable { case pending, delivered, failed }

    public var seq: Int64?
    /// The Standard Webhooks `webhook-id`: stable across retries.
    public var webhookID: String
    /// The job the event is about, or `nil` for a batch's (``batchID``).
    public var jobID: String?
    public var batchID: String?
    public var url: String
    /// The receiver, as ``WebhookEndpoint`` names it: deliveries are limited and rested per endpoint.
    public var endpoint: String
    /// The exact body sent on every attempt.
    public var payload: Data
    public var state: State
    public var attempts: Int
    public var createdAt: Date
    public var nextAttemptAt: Date
    public var deliveredAt: Date?
    public var lastError: String?

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case seq, webhookID = "webhook_id", jobID = "job_id", batchID = "batch_id", url, endpoint, payload, state, attempts
        case createdAt = "created_at", nextAttemptAt = "next_attempt_at", deliveredAt = "delivered_at", lastError = "last_error"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}
