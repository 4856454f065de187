import Foundation
import GRDB

/// What a failed database operation means to the people involved: the caller gets a 503 it can retry, the operator
/// a plain reason, instead of SQLite's numbered error text.
public enum StoreFailure: Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// The disk (or the file system's quota) is full.
    case diskFull
    /// Another process holds the database's write lock for longer than the busy timeout.
    case locked
    /// The file or its folder cannot be written (permissions, a read-only mount).
    case readOnly
    /// The file cannot be opened or created.
    case cannotOpen
    /// Reading or writing the file failed at the operating system.
    case ioError
    /// The file is not a usable SQLite database.
    case corrupt

    /// The failure `error` stands for, or `nil` when it is not a database failure of the environment (a bug, a
    /// constraint foreman's own logic should have prevented).
    public init?(_ error: any Error) {
        if let sync = error as? WALSyncError {
            self = sync.errno == ENOSPC || sync.errno == EDQUOT ? .diskFull : .ioError
            return
        }
        guard let error = error as? DatabaseError else { return nil }
        switch error.resultCode {
        case .SQLITE_FULL: self = .diskFull
        case .SQLITE_BUSY, .SQLITE_LOCKED: self = .locked
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_AUTH: self = .readOnly
        case .SQLITE_CANTOPEN: self = .cannotOpen
        case .SQLITE_IOERR: self = .ioError
        case .SQLITE_CORRUPT, .SQLITE_NOTADB: self = .corrupt
        default: return nil
        }
    }

    /// Whether waiting can cure it without an operator (space returns, the other process lets go).
    public var isTransient: Bool {
        switch self {
        case .diskFull, .locked, .ioError: true
        case .readOnly, .cannotOpen, .corrupt: false
        }
    }

    public var description: String {
        switch self {
        case .diskFull: "the disk holding the database is full"
        case .locked: "the database is locked by another process"
        case .readOnly: "the database cannot be written (permissions or a read-only file system)"
        case .cannotOpen: "the database file cannot be opened"
        case .ioError: "the database file could not be read or written (I/O error)"
        case .corrupt: "the database file is damaged or not a foreman database"
        }
    }
}
