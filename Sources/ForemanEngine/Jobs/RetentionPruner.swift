import ForemanStore
import Foundation
import Logging
import ServiceLifecycle

/// Deletes jobs (with their artifacts and webhook deliveries) once they have been finished for `FOREMAN_RETENTION`.
public struct RetentionPruner: Service {
    private let store: any JobStore
    private let retention: Duration
    private let interval: Duration
    private let logger: Logger

    public init(store: any JobStore, retention: Duration, interval: Duration = .seconds(3600), logger: Logger) {
        self.store = store
        self.retention = retention
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                let pruned = try await store.prune(finishedBefore: Date().addingTimeInterval(-retention.seconds))
                if pruned > 0 { logger.info("pruned finished jobs past retention", metadata: ["count": "\(pruned)"]) }
            } catch {
                logger.error("pruning failed", metadata: ["error": "\(error)"])
            }
            try? await gracefulShutdownAwareSleep(for: interval)
        }
    }
}
