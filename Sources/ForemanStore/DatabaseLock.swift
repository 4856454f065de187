import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Proof that this process is the only foreman using a database file, held from startup until the file is closed.
///
/// Startup recovery fails every native job left `running` and requeues `/jobs` jobs: run by a second process on a
/// database another foreman is serving, it would undo work that is in flight there. So the second process must
/// refuse before it touches the file. The lock is an advisory `flock` on `<database>.lock`, not on the database
/// itself: SQLite's own POSIX locks on the database must not be disturbed, and a lock file can carry the holder's
/// pid for the message. The kernel drops the lock when the holder exits, however it exits, so a stale file left by
/// a SIGKILL never blocks a restart.
public final class DatabaseLock: Sendable {
    /// The lock file's path.
    public let path: String
    private let descriptor: Int32

    /// Takes the lock for the database at `databasePath`, creating the lock file (and its folder) if needed.
    ///
    /// - Throws: ``DatabaseLockError/inUse(database:holder:)`` when another process holds it;
    ///   ``DatabaseLockError/cannotOpen(path:reason:)`` when the lock file cannot be created.
    public init(databasePath: String) throws(DatabaseLockError) {
        let path = databasePath + ".lock"
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw .cannotOpen(path: folder, reason: Self.reason(of: error))
            }
        }
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            let holder = Self.readPID(descriptor)
            close(descriptor)
            if failure == EWOULDBLOCK { throw .inUse(database: databasePath, holder: holder) }
            throw .cannotOpen(path: path, reason: String(cString: strerror(failure)))
        }
        // The pid is only for the message another process prints; a failure to write it changes nothing.
        let pid = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = pid.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        // Closing the descriptor releases the flock; the file stays for the next start.
        close(descriptor)
    }

    private static func readPID(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private static func reason(of error: any Error) -> String {
        (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
    }
}

/// Why foreman could not take its database for itself.
public enum DatabaseLockError: Error, Equatable, CustomStringConvertible {
    /// Another process (pid, when it wrote one) serves this database.
    case inUse(database: String, holder: Int32?)
    case cannotOpen(path: String, reason: String)

    public var description: String {
        switch self {
        case .inUse(let database, let holder):
            let who = holder.map { "another foreman (pid \($0))" } ?? "another process"
            return "the database \(database) is in use by \(who); stop it or set FOREMAN_DB to another file"
        case .cannotOpen(let path, let reason):
            return "cannot create the lock file \(path): \(reason)"
        }
    }
}
