import ForemanStore
import Logging
import ServiceLifecycle

/// Commits native calls' rows behind them (ADR 0016): woken whenever a call hands its job to the store, it commits
/// what was handed over, in batches, off every call's path.
///
/// It stops after the workers, so the rows of the calls that ended during the drain are written before the
/// database closes.
public struct NativeRowWriter: Service {
    let store: any JobStore
    let wakeup: Wakeup
    let logger: Logger

    /// - Parameter wakeup: signalled by the store when a job is handed over (its `behindHanded`).
    public init(store: any JobStore, wakeup: Wakeup, logger: Logger) {
        self.store = store
        self.wakeup = wakeup
        self.logger = logger
    }

    public func run() async throws {
        for await _ in wakeup.signals.cancelOnGracefulShutdown() {
            await flushRetrying()
        }
        do {
            try await store.flushWritesBehind()
        } catch {
            logger.error("native calls' rows not written at shutdown; the next start does not see them", metadata: ["error": "\(error)"])
        }
    }

    /// Commits what was handed over, retrying with backoff while the store cannot write (the store logs the
    /// failure and shows it on `/healthz`). A shutdown ends the retries; the last flush then tries once more.
    private func flushRetrying() async {
        var delay = Duration.milliseconds(250)
        while true {
            do {
                try await store.flushWritesBehind()
                return
            } catch {
                do {
                    try await gracefulShutdownAwareSleep(for: delay)
                } catch {
                    return
                }
                delay = min(delay * 2, .seconds(5))
            }
        }
    }
}
