import ForemanDomain
import Foundation
import GRDB

/// Opens foreman's SQLite file with the durability foreman promises, and brings its schema up to date.
public enum ForemanDatabase {
    /// Opens (creating folder and file if needed) the database at `path`.
    ///
    /// The file runs in WAL mode with `synchronous=FULL`: a job foreman has accepted must survive a power
    /// cut, not only a crash, and WAL keeps readers (status polls) from waiting on the writer. GRDB turns
    /// WAL on with `synchronous=NORMAL`, so FULL is set afterwards on the single writer connection and both
    /// pragmas are read back; a mismatch stops startup rather than silently weakening the promise. A
    /// ``SQLiteJobStore`` opened over the pool then lowers the writer to NORMAL, when every durable write it makes
    /// waits for its own fsync of the WAL instead (ADR 0041).
    public static func open(path: String) throws -> DatabasePool {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try pool.barrierWriteWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        try verifyDurability(pool)
        try migrator.migrate(pool)
        return pool
    }

    /// How long a connection waits for another process's lock before SQLITE_BUSY.
    static let busyTimeoutMilliseconds: Int32 = 5000

    /// How every connection to the file is set up.
    static var configuration: Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(Double(busyTimeoutMilliseconds) / 1000)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            db.add(function: endpointFunction)
            #if canImport(Darwin)
            // Plain fsync on macOS does not flush the drive's cache (checkpoints follow this setting too).
            try db.execute(sql: "PRAGMA fullfsync = ON")
            #endif
        }
        return configuration
    }

    /// ``WebhookEndpoint/of(_:)`` as the SQL function `foreman_endpoint(url)`, for the migration that stores each
    /// delivery's endpoint.
    static let endpointFunction = DatabaseFunction("foreman_endpoint", argumentCount: 1, pure: true) { values in
        String.fromDatabaseValue(values[0]).map(WebhookEndpoint.of)
    }

    /// Reads back the durability pragmas; throws ``DurabilityError`` unless they are WAL and FULL.
    public static func verifyDurability(_ pool: DatabasePool) throws {
        let (journal, synchronous) = try pool.barrierWriteWithoutTransaction { db in
            (
                try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            )
        }
        guard journal.lowercased() == "wal", synchronous == 2 else {
            throw DurabilityError(journalMode: journal, synchronous: synchronous)
        }
    }

    /// The schema's history. Shipped migrations are never edited; new ones are appended.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: job") { db in
            try db.create(table: "job") { t in
                t.column("seq", .integer).primaryKey(autoincrement: true)
                t.column("id", .text).notNull().unique()
                t.column("kind", .text).notNull()
                t.column("origin", .text).notNull()
                t.column("state", .text).notNull()
                t.column("model", .text).notNull()
                t.column("priority", .integer).notNull().defaults(to: 0)
                t.column("request", .blob).notNull()
                t.column("stream", .boolean).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("started_at", .datetime)
                t.column("finished_at", .datetime)
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("error", .text)
                t.column("response", .blob)
            }
            try db.create(index: "job_state_seq", on: "job", columns: ["state", "seq"])
        }
        migrator.registerMigration("v2: jobs surface, artifacts, webhook outbox") { db in
            try db.alter(table: "job") { t in
                t.add(column: "metadata", .text)
                t.add(column: "state_webhook_url", .text)
                t.add(column: "idempotency_key", .text)
                t.add(column: "request_fingerprint", .text)
            }
            try db.create(index: "job_idempotency_key", on: "job", columns: ["idempotency_key"], unique: true)
            try db.create(index: "job_finished_at", on: "job", columns: ["finished_at"])
            try db.create(table: "artifact") { t in
                t.column("job_id", .text).notNull().references("job", column: "id", onDelete: .cascade)
                t.column("name", .text).notNull()
                t.column("content_type", .text).notNull()
                t.column("data", .blob).notNull()
                t.primaryKey(["job_id", "name"])
            }
            try db.create(table: "webhook_delivery") { t in
                t.column("seq", .integer).primaryKey(autoincrement: true)
                t.column("webhook_id", .text).notNull().unique()
                t.column("job_id", .text).notNull().references("job", column: "id", onDelete: .cascade)
                t.column("url", .text).notNull()
                t.column("payload", .blob).notNull()
                t.column("state", .text).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("created_at", .datetime).notNull()
                t.column("next_attempt_at", .datetime).notNull()
                t.column("delivered_at", .datetime)
                t.column("last_error", .text)
            }
            try db.create(index: "webhook_delivery_due", on: "webhook_delivery", columns: ["state", "next_attempt_at"])
            try db.create(index: "webhook_delivery_job", on: "webhook_delivery", columns: ["job_id", "seq"])
        }
        migrator.registerMigration("v3: scheduler bookkeeping") { db in
            try db.alter(table: "job") { t in
                t.add(column: "skips", .integer).notNull().defaults(to: 0)
                t.add(column: "first_skipped_at", .datetime)
            }
            try db.create(index: "job_state_priority_seq", on: "job", columns: ["state", "priority", "seq"])
        }
        migrator.registerMigration("v4: embeddings lane queue") { db in
            // The embeddings runner claims only `embed` jobs; without this it would walk every queued chat first.
            try db.execute(sql: "CREATE INDEX job_embed_queue ON job(priority DESC, seq) WHERE state = 'queued' AND kind = 'embed'")
        }
        migrator.registerMigration("v5: queue place without table look-ups") { db in
            // A job's place counts the older jobs of its priority in its lane; with `kind` in the index that count
            // never reads the table (ADR 0010). It serves every query the index it replaces did.
            try db.create(index: "job_queue_place", on: "job", columns: ["state", "priority", "seq", "kind"])
            try db.drop(index: "job_state_priority_seq")
        }
        migrator.registerMigration("v6: partial indexes for keys and finish times") { db in
            // Every job used to add an entry to both indexes, NULL for a native job's key and for any unfinished
            // job: two more pages written per commit on the hot path (ADR 0011). The lookups they serve
            // (`idempotency_key = ?`, `finished_at IS NOT NULL AND finished_at < ?`) never want a NULL.
            try db.drop(index: "job_idempotency_key")
            try db.execute(sql: "CREATE UNIQUE INDEX job_idempotency_key ON job(idempotency_key) WHERE idempotency_key IS NOT NULL")
            try db.drop(index: "job_finished_at")
            try db.execute(sql: "CREATE INDEX job_finished_at ON job(finished_at) WHERE finished_at IS NOT NULL")
        }
        migrator.registerMigration("v7: queue index for queued jobs only; a response stored once") { db in
            // Every job used to enter the queue index and move in it at each change of state, though only queued
            // jobs are ever looked up there (`state = 'queued'` in every query): two or three pages per native
            // call (ADR 0012). `state` stays a column so the planner picks the index, and covers with it, as before.
            try db.drop(index: "job_queue_place")
            try db.execute(sql: "CREATE INDEX job_queue_place ON job(state, priority, seq, kind) WHERE state = 'queued'")
            // A succeeded job's response was written twice, in its row and as the `response.json` artifact. The
            // row's copy is now the artifact (`ArtifactInfo.fetchAll`); the table keeps transcripts.
            try db.execute(sql: """
                DELETE FROM artifact WHERE name = 'response.json'
                AND job_id IN (SELECT id FROM job WHERE state = 'succeeded' AND response IS NOT NULL)
                """)
            try db.execute(sql: "UPDATE job SET response = NULL WHERE state != 'succeeded' AND response IS NOT NULL")
        }
        migrator.registerMigration("v8: deliveries by endpoint") { db in
            // The outbox reads one endpoint's due events at a time and rests an endpoint that fails (ADR 0015): the
            // endpoint is stored once, and the pending events of one endpoint are read in order from one index.
            try db.execute(sql: "ALTER TABLE webhook_delivery ADD COLUMN endpoint TEXT NOT NULL DEFAULT ''")
            try db.execute(sql: "UPDATE webhook_delivery SET endpoint = foreman_endpoint(url)")
            try db.execute(sql: """
                CREATE INDEX webhook_delivery_pending ON webhook_delivery(endpoint, next_attempt_at, seq)
                WHERE state = 'pending'
                """)
            try db.drop(index: "webhook_delivery_due")
        }
        migrator.registerMigration("v9: providers") { db in
            // ADR 0017: the provider a `provider/model` id bound the job to, and the one that ran it. Older rows have
            // neither: they are bare, not yet run anywhere.
            try db.execute(sql: "ALTER TABLE job ADD COLUMN provider TEXT")
            try db.execute(sql: "ALTER TABLE job ADD COLUMN ran_on TEXT")
        }
        migrator.registerMigration("v10: files and batches") { db in
            // ADR 0020: uploaded and written files in 1 MiB chunks, batches, and a batch's jobs.
            try db.execute(sql: """
                CREATE TABLE file (
                    id TEXT PRIMARY KEY NOT NULL, purpose TEXT NOT NULL, filename TEXT NOT NULL, bytes INTEGER NOT NULL DEFAULT 0,
                    status TEXT NOT NULL, created_at DATETIME NOT NULL);
                CREATE TABLE file_chunk (
                    file_id TEXT NOT NULL REFERENCES file(id) ON DELETE CASCADE, seq INTEGER NOT NULL, data BLOB NOT NULL,
                    PRIMARY KEY (file_id, seq)) WITHOUT ROWID;
                CREATE TABLE batch (
                    id TEXT PRIMARY KEY NOT NULL, endpoint TEXT NOT NULL, input_file_id TEXT NOT NULL, completion_window TEXT NOT NULL,
                    status TEXT NOT NULL, metadata TEXT, webhook_url TEXT, errors TEXT, output_file_id TEXT, error_file_id TEXT,
                    total INTEGER NOT NULL DEFAULT 0, completed INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
                    created_at DATETIME NOT NULL, expires_at DATETIME NOT NULL, in_progress_at DATETIME, finalizing_at DATETIME,
                    completed_at DATETIME, failed_at DATETIME, expired_at DATETIME, cancelling_at DATETIME, cancelled_at DATETIME);
                CREATE INDEX batch_open ON batch(status) WHERE status IN ('validating', 'in_progress', 'finalizing', 'cancelling');
                ALTER TABLE job ADD COLUMN batch_id TEXT;
                ALTER TABLE job ADD COLUMN custom_id TEXT;
                CREATE INDEX job_batch ON job(batch_id, state) WHERE batch_id IS NOT NULL;
                """)
            // An event belongs to a job or to a batch: `job_id` becomes nullable, which SQLite changes only by
            // rebuilding the table.
            try db.execute(sql: """
                CREATE TABLE webhook_delivery_v10 (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, webhook_id TEXT NOT NULL UNIQUE,
                    job_id TEXT REFERENCES job(id) ON DELETE CASCADE, batch_id TEXT REFERENCES batch(id) ON DELETE CASCADE,
                    url TEXT NOT NULL, payload BLOB NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                    created_at DATETIME NOT NULL, next_attempt_at DATETIME NOT NULL, delivered_at DATETIME, last_error TEXT,
                    endpoint TEXT NOT NULL DEFAULT '');
                INSERT INTO webhook_delivery_v10 (seq, webhook_id, job_id, url, payload, state, attempts, created_at, next_attempt_at,
                    delivered_at, last_error, endpoint)
                SELECT seq, webhook_id, job_id, url, payload, state, attempts, created_at, next_attempt_at, delivered_at, last_error, endpoint
                FROM webhook_delivery;
                DROP TABLE webhook_delivery;
                ALTER TABLE webhook_delivery_v10 RENAME TO webhook_delivery;
                CREATE INDEX webhook_delivery_job ON webhook_delivery(job_id, seq);
                CREATE INDEX webhook_delivery_pending ON webhook_delivery(endpoint, next_attempt_at, seq) WHERE state = 'pending';
                """)
        }
        migrator.registerMigration("v11: keys") { db in
            // ADR 0022: callers' keys, the secret kept only as its SHA-256; and the key that made each job, batch and
            // file (none: the bootstrap key's, as every row made before). The claim reads each key's oldest queued
            // generations through `job_queue_owner`, one seek per key.
            try db.execute(sql: """
                CREATE TABLE api_key (
                    id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL UNIQUE, secret_hash BLOB NOT NULL UNIQUE, scopes TEXT NOT NULL,
                    priority_ceiling INTEGER, max_concurrent INTEGER, requests_per_minute INTEGER, tokens_per_day INTEGER,
                    created_at DATETIME NOT NULL, revoked_at DATETIME);
                ALTER TABLE job ADD COLUMN owner TEXT;
                ALTER TABLE batch ADD COLUMN owner TEXT;
                ALTER TABLE file ADD COLUMN owner TEXT;
                CREATE INDEX job_queue_owner ON job(priority, owner, seq) WHERE state = 'queued' AND kind != 'embed';
                """)
        }
        migrator.registerMigration("v12: usage") { db in
            // ADR 0022: what each key used, by model and UTC day, added to as each call ends. Keys, models and days are
            // few: one row per triple, found by its primary key.
            try db.execute(sql: """
                CREATE TABLE usage (
                    key_id TEXT NOT NULL, model TEXT NOT NULL, day TEXT NOT NULL,
                    requests INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, generated_tokens INTEGER NOT NULL,
                    generation_seconds REAL NOT NULL,
                    PRIMARY KEY (key_id, model, day)) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v13: artifact parts") { db in
            // ADR 0024: a long transcript is written as it streams, in parts; its `artifact` row, written at the
            // finish, holds the last part, and the parts before it are read back in order.
            try db.execute(sql: """
                CREATE TABLE artifact_part (
                    job_id TEXT NOT NULL REFERENCES job(id) ON DELETE CASCADE, name TEXT NOT NULL, part INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (job_id, name, part)) WITHOUT ROWID;
                """)
        }
        return migrator
    }
}

/// The database did not accept the durability settings foreman relies on.
public struct DurabilityError: Error, CustomStringConvertible {
    public var journalMode: String
    public var synchronous: Int

    public var description: String {
        "SQLite durability check failed: journal_mode=\(journalMode) (want wal), synchronous=\(synchronous) (want 2, FULL)"
    }
}
