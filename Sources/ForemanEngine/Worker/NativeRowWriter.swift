import ForemanStore
import Logging
import ServiceLifecycle

/// Commits native calls' rows behind them (ADR 0016): woken when a call hands its job to the store, it waits a short
/// window for the calls that end close behind it, then commits what was handed over in one transaction, off every
/// call's path. A read commits what is pending itself, so the window never makes a row late for anyone.
///
/// It stops after the workers, so the rows of the calls that ended during the drain are written before the
/// database closes.
public struct NativeRowWriter: Service {
    let store: any JobStore
    let wakeup: Wakeup
    let window: Duration
    let logger: Logger

    /// - Parameters:
    ///   - wakeup: signalled by the store when a job is handed over (its `behindHanded`).
    ///   - window: how long rows may gather before a commit: one commit per row would cost each call more CPU than
    ///     the commits it no longer waits for.
    public init(store: any JobStore, wakeup: Wakeup, window: Duration = .milliseconds(20), logger: Logger) {
        self.store = store
        self.wakeup = wakeup
        self.window = window
        self.logger = logger
    }

    public func run() async throws {
        for await _ in wakeup.signals.cancelOnGracefulShutdown() {
            try? await gracefulShutdownAwareSleep(for: window)
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
