import Foundation

/// `sqlite3` in another process (Python's module), holding a lock on a database until released.
package final class SQLiteLockHolder {
    private let process = Process()
    private let input = Pipe()

    /// Starts the holder and returns once it holds `BEGIN <lock>` (`IMMEDIATE`: the write lock; `EXCLUSIVE`).
    package init(database: String, lock: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("BEGIN " + sys.argv[2])
            print("locked", flush=True)
            sys.stdin.read()
            """, database, lock]
        let said = Pipe()
        process.standardInput = input
        process.standardOutput = said
        try process.run()
        guard String(decoding: said.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("locked") else {
            throw TestFailure("the lock holder did not take its lock")
        }
    }

    /// Closes its standard input: it exits, and its lock goes with it.
    package func release() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
