import ForemanDomain
import Foundation
import GRDB

/// Rows are read and written column by column rather than through `Codable`: a job's row is read or written on
/// every state change, and GRDB's `Codable` coders cost more than the SQL itself there (ADR 0010).
extension Job: FetchableRecord, MutablePersistableRecord {
    /// The `job` table's columns.
    public enum Columns: String, ColumnExpression {
        case seq, id, kind, origin, state, model, priority, request, stream
        case createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
        case attempts, error, response, metadata
        case stateWebhookURL = "state_webhook_url", idempotencyKey = "idempotency_key"
        case requestFingerprint = "request_fingerprint"
        case skips, firstSkippedAt = "first_skipped_at"
        case provider, ranOn = "ran_on"
        case batchID = "batch_id", customID = "custom_id", owner
    }

    public static let databaseTableName = "job"

    public init(row: Row) throws {
        typealias Column = Columns
        guard let created = try Self.date(row, Column.createdAt) else { throw StoredJobError(column: Column.createdAt.rawValue, value: "NULL") }
        self.init(
            id: row[Column.id], kind: try Self.stored(row, Column.kind), origin: try Self.stored(row, Column.origin),
            model: row[Column.model], provider: row[Column.provider], priority: row[Column.priority], request: row[Column.request], stream: row[Column.stream],
            metadata: row[Column.metadata], stateWebhookURL: row[Column.stateWebhookURL], createdAt: created
        )
        seq = row[Column.seq]
        state = try Self.stored(row, Column.state)
        startedAt = try Self.date(row, Column.startedAt)
        finishedAt = try Self.date(row, Column.finishedAt)
        attempts = row[Column.attempts]
        error = row[Column.error]
        response = row[Column.response]
        idempotencyKey = row[Column.idempotencyKey]
        requestFingerprint = row[Column.requestFingerprint]
        skips = row[Column.skips]
        firstSkippedAt = try Self.date(row, Column.firstSkippedAt)
        ranOn = row[Column.ranOn]
        batchID = row[Column.batchID]
        customID = row[Column.customID]
        owner = row[Column.owner]
    }

    public func encode(to container: inout PersistenceContainer) {
        container[Columns.seq] = seq
        for (column, value) in storedValues { container[column] = value }
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }

    /// Every column but `seq`, with what this job stores in it: the one list both ways of writing a row use.
    private var storedValues: [(Columns, (any DatabaseValueConvertible)?)] {
        [
            (.id, id), (.kind, kind.rawValue), (.origin, origin.rawValue), (.state, state.rawValue), (.model, model),
            (.priority, priority), (.request, request), (.stream, stream), (.createdAt, DatabaseDate.storage(createdAt)),
            (.startedAt, startedAt.map(DatabaseDate.storage)), (.finishedAt, finishedAt.map(DatabaseDate.storage)),
            (.attempts, attempts), (.error, error), (.response, response), (.metadata, metadata),
            (.stateWebhookURL, stateWebhookURL), (.idempotencyKey, idempotencyKey), (.requestFingerprint, requestFingerprint),
            (.skips, skips), (.firstSkippedAt, firstSkippedAt.map(DatabaseDate.storage)), (.batchID, batchID), (.customID, customID), (.owner, owner),
            (.provider, provider), (.ranOn, ranOn),
        ]
    }

    /// The `INSERT` of ``insertRow(_:)``, over the columns of ``storedValues`` in their order.
    private static let insertSQL: String = {
        let columns = Job(kind: .chat, origin: .api, model: "", request: Data(), stream: false).storedValues.map(\.0.rawValue)
        return "INSERT INTO job (" + columns.joined(separator: ", ") + ") VALUES ("
            + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
    }()

    /// Inserts the row through one kept statement and sets ``seq``. The queue's hot path inserts this way:
    /// GRDB's generic `insert` built its statement and arguments anew for every job, at about 40 µs a row
    /// (ADR 0011).
    mutating func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: Self.insertSQL).execute(arguments: StatementArguments(storedValues.map(\.1)))
        seq = db.lastInsertedRowID
    }

    /// The statement of ``upsertRow(_:)``: a native job written behind (ADR 0016) takes its latest state, unless its
    /// row already holds an outcome.
    private static let upsertSQL = insertSQL + """
         ON CONFLICT(id) DO UPDATE SET state = excluded.state, started_at = excluded.started_at,
        finished_at = excluded.finished_at, attempts = excluded.attempts, error = excluded.error, response = excluded.response
        WHERE job.state IN ('queued', 'running')
        """

    /// Writes the row as this job stands now, inserting it if it is not there yet.
    func upsertRow(_ db: Database) throws {
        try db.cachedStatement(sql: Self.upsertSQL).execute(arguments: StatementArguments(storedValues.map(\.1)))
    }

    private static func stored<Value: RawRepresentable>(_ row: Row, _ column: Columns) throws -> Value where Value.RawValue == String {
        let text: String = row[column]
        guard let value = Value(rawValue: text) else { throw StoredJobError(column: column.rawValue, value: text) }
        return value
    }

    private static func date(_ row: Row, _ column: Columns) throws -> Date? {
        let value: DatabaseValue = row[column]
        if value.isNull { return nil }
        guard let date = DatabaseDate.read(value) else { throw StoredJobError(column: column.rawValue, value: value.description) }
        return date
    }
}

/// A `job` row holds a value foreman never writes (the file was edited by hand or by a newer foreman).
public struct StoredJobError: Error, CustomStringConvertible {
    public var column: String
    public var value: String

    public var description: String { "job row has an unreadable \(column): \(value)" }
}
