import ForemanEngine
import Foundation
import Logging
import Synchronization

package func temporaryDatabasePath() -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-tests-\(UUID().uuidString)")
    return folder.appendingPathComponent("foreman.db").path
}

package func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["FOREMAN_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}

/// Log lines collected from a ``LogfmtLogHandler``, in the order written.
package final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])

    package init() {}

    package var all: [String] { lines.withLock { $0 } }

    /// Keeps `record`'s line, formatted as standard error gets it.
    @Sendable package func append(_ record: LogRecord) {
        let line = record.line
        lines.withLock { $0.append(line) }
    }
}

extension LogLines {
    /// A logger at `level` whose lines, formatted by ``LogfmtLogHandler``, are collected here.
    package func logger(_ label: String = "foreman", level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { LogfmtLogHandler(label: $0, write: self.append, flush: {}) }
        logger.logLevel = level
        return logger
    }
}
