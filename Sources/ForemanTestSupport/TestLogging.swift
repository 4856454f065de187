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
    private struct Waiter {
        let id: Int
        let matches: @Sendable (String) -> Bool
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var lines: [String] = []
        var waiters: [Waiter] = []
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    package init() {}

    package var all: [String] { state.withLock { $0.lines } }

    /// Keeps `record`'s line, formatted as standard error gets it.
    @Sendable package func append(_ record: LogRecord) {
        let line = record.line
        let woken = state.withLock { state in
            state.lines.append(line)
            let woken = state.waiters.filter { $0.matches(line) }
            state.waiters.removeAll { $0.matches(line) }
            return woken
        }
        for waiter in woken { waiter.continuation.resume(returning: true) }
    }

    /// Returns once a line that `matches` has been written; throws if none has been within `timeout`.
    package func waitForLine(timeout: Duration = .seconds(15), _ matches: @escaping @Sendable (String) -> Bool) async throws {
        let found = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let id = state.withLock { state -> Int? in
                if state.lines.contains(where: matches) { return nil }
                state.nextWaiter += 1
                state.waiters.append(Waiter(id: state.nextWaiter, matches: matches, continuation: continuation))
                return state.nextWaiter
            }
            guard let id else { return continuation.resume(returning: true) }
            Task {
                try? await Task.sleep(for: timeout)
                let expired = self.state.withLock { state in
                    state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0) }
                }
                expired?.continuation.resume(returning: false)
            }
        }
        if !found { throw TestFailure("no log line as awaited within \(timeout)") }
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
