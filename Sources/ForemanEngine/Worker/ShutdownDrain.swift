import Logging
import ServiceLifecycle

/// Says whether foreman still takes new work; closed once a graceful shutdown begins.
public actor ShutdownGate {
    public private(set) var isOpen = true

    public init() {}

    public func close() { isOpen = false }
}

/// The first service to hear a graceful shutdown (SIGTERM, SIGINT): it closes the gate, so new work gets 503
/// with `Retry-After`, cancels the native calls still queued, and drains both workers within the grace period
/// (ADR 0009). Only then do the HTTP server, the workers, the outbox and the database stop, in that order.
public struct ShutdownDrain: Service {
    let gate: ShutdownGate
    let service: JobService
    let grace: Duration
    let logger: Logger

    public init(gate: ShutdownGate, service: JobService, grace: Duration, logger: Logger) {
        self.gate = gate
        self.service = service
        self.grace = grace
        self.logger = logger
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await gate.close()
        logger.notice("shutting down: no new jobs", metadata: ["grace": "\(grace)"])
        await service.drain(grace: grace)
        logger.notice("workers drained")
    }
}
