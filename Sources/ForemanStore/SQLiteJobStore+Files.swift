import ForemanDomain
import Foundation
import GRDB

/// The Files API's rows (ADR 0020): a file's row, and its bytes in 1 MiB chunks, each written in its own transaction
/// as it arrives so that no file is ever held whole in memory.
extension SQLiteJobStore {
    /// Creates `file`'s row, still `writing`: it is not listed or read until ``finishFile(id:bytes:)``.
    public nonisolated func beginFile(_ file: StoredFile) async throws {
        try await writeDurably { db in
            try db.execute(
                sql: "INSERT INTO file (id, purpose, filename, bytes, status, created_at, owner) VALUES (?, ?, ?, 0, ?, ?, ?)",
                arguments: [file.id, file.purpose.rawValue, file.filename, file.status.rawValue, DatabaseDate.storage(file.createdAt), file.owner]
            )
        }
    }

    /// Appends chunk `seq` (from 0) of file `id`.
    public nonisolated func appendChunk(fileID: String, seq: Int, data: Data) async throws {
        try await writeDurably { db in
            try db.execute(sql: "INSERT INTO file_chunk (file_id, seq, data) VALUES (?, ?, ?)", arguments: [fileID, seq, data])
        }
    }

    /// Marks file `id` whole, `bytes` long, and returns it.
    public nonisolated func finishFile(id: String, bytes: Int) async throws -> StoredFile? {
        try await writeDurably { db in
            try Row.fetchOne(
                db, sql: "UPDATE file SET status = 'processed', bytes = ? WHERE id = ? AND status = 'writing' RETURNING *", arguments: [bytes, id]
            ).map(StoredFile.init(row:))
        }
    }

    /// Deletes file `id` and its chunks; whether it existed.
    @discardableResult
    public nonisolated func deleteFile(id: String) async throws -> Bool {
        try await writeDurably { db in
            try db.execute(sql: "DELETE FROM file WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    /// Deletes the files a crash left half written; how many.
    public nonisolated func deleteUnfinishedFiles() async throws -> Int {
        try await writeDurably { db in
            try db.execute(sql: "DELETE FROM file WHERE status = 'writing'")
            return db.changesCount
        }
    }

    /// The whole file `id`, if there is one.
    public nonisolated func file(id: String) async throws -> StoredFile? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM file WHERE id = ? AND status = 'processed'", arguments: [id]).map(StoredFile.init(row:))
        }
    }

    /// Whole files, newest first (oldest first with `ascending`), after the file `after` in that order; with
    /// `owner`, that key's only.
    public nonisolated func files(purpose: StoredFile.Purpose?, after: String?, limit: Int, ascending: Bool, owner: String?) async throws -> [StoredFile] {
        try await pool.read { db in
            var sql = "SELECT * FROM file WHERE status = 'processed'"
            var arguments: StatementArguments = []
            if let purpose {
                sql += " AND purpose = ?"
                arguments += [purpose.rawValue]
            }
            if let owner {
                sql += " AND owner = ?"
                arguments += [owner]
            }
            // Ids are ULIDs: their order is their creation order.
            if let after {
                sql += ascending ? " AND id > ?" : " AND id < ?"
                arguments += [after]
            }
            sql += ascending ? " ORDER BY id LIMIT ?" : " ORDER BY id DESC LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(StoredFile.init(row:))
        }
    }

    /// Chunk `seq` of file `id`, or `nil` past its last.
    public nonisolated func chunk(fileID: String, seq: Int) async throws -> Data? {
        try await pool.read { db in
            try Data.fetchOne(db, sql: "SELECT data FROM file_chunk WHERE file_id = ? AND seq = ?", arguments: [fileID, seq])
        }
    }

    /// Runs `body` on every line of file `id` (numbered from 1, without its line break; blank lines skipped), one
    /// chunk in memory at a time, and returns what it made of them.
    public nonisolated func scanLines<Value: Sendable>(
        fileID: String, into initial: Value, _ body: @escaping @Sendable (inout Value, Int, Data) -> Void
    ) async throws -> Value {
        try await pool.read { db in
            var value = initial
            try Self.forEachLine(db, fileID: fileID) { number, line in body(&value, number, line) }
            return value
        }
    }

    /// Every line of file `id` in `db`, as ``scanLines(fileID:into:_:)`` reads them.
    static func forEachLine(_ db: Database, fileID: String, _ body: (Int, Data) throws -> Void) throws {
        let chunks = try Data.fetchCursor(db, sql: "SELECT data FROM file_chunk WHERE file_id = ? ORDER BY seq", arguments: [fileID])
        var pending = Data()
        var number = 0
        func emit(_ line: Data) throws {
            number += 1
            var line = line
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            // A copy starting at index 0: a slice of the chunk would keep the chunk alive and its offsets.
            if line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) { try body(number, Data(line)) }
        }
        while let chunk = try chunks.next() {
            var start = chunk.startIndex
            while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if pending.isEmpty {
                    try emit(chunk[start..<newline])
                } else {
                    pending.append(chunk[start..<newline])
                    try emit(pending)
                    pending = Data()
                }
                start = newline + 1
            }
            pending.append(chunk[start...])
        }
        if !pending.isEmpty { try emit(pending) }
    }
}

extension StoredFile {
    init(row: Row) throws {
        guard let purpose = Purpose(rawValue: row["purpose"]), let status = Status(rawValue: row["status"]),
            let created = DatabaseDate.date(row["created_at"])
        else { throw StoredJobError(column: "file", value: "\(row)") }
        self.init(id: row["id"], purpose: purpose, filename: row["filename"], createdAt: created)
        self.bytes = row["bytes"]
        self.status = status
        self.owner = row["owner"]
    }
}
