import ForemanDomain
import ForemanTarget
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// Keeps the ``Inventory`` fresh by reading the target's `/api/tags` every interval.
///
/// A failed poll keeps the last inventory and sets the degraded flag; the next success clears it.
/// ``refresh()`` polls at once; ``refreshUnlessRecent()`` (an unknown model's re-poll before its 404) at most once
/// a second. Callers that arrive while a poll is in flight share it instead of stacking more requests on the target.
public actor InventoryPoller: Service {
    private let target: any OllamaTarget
    private let inventory: Inventory
    private let interval: Duration
    private let logger: Logger
    /// The shortest time between two polls asked for by callers (``refreshUnlessRecent()``).
    private let minimumRefreshInterval: Duration
    private var inFlight: Task<Bool, Never>?
    private var lastPoll: (endedAt: ContinuousClock.Instant, succeeded: Bool)?
    private var learning = false
    /// Told when a poll finds the target back, or its models changed: a fleet's workers may now claim other jobs.
    private let changed: @Sendable () -> Void

    public init(
        target: any OllamaTarget, inventory: Inventory, interval: Duration, minimumRefreshInterval: Duration = .seconds(1), logger: Logger,
        changed: @escaping @Sendable () -> Void = {}
    ) {
        self.changed = changed
        self.target = target
        self.inventory = inventory
        self.interval = interval
        self.minimumRefreshInterval = minimumRefreshInterval
        self.logger = logger
    }

    /// Polls for a caller that met a model the inventory lacks, unless a poll ended less than the minimum refresh
    /// interval ago: then that poll's outcome stands. Names a caller makes up cost the target at most one
    /// `/api/tags` a second, however many arrive.
    @discardableResult
    public func refreshUnlessRecent() async -> Bool {
        if inFlight == nil, let lastPoll, ContinuousClock.now - lastPoll.endedAt < minimumRefreshInterval {
            return lastPoll.succeeded
        }
        return await refresh()
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await refresh()
            try? await gracefulShutdownAwareSleep(for: interval)
        }
    }

    /// Polls now (or joins the poll in flight). Returns whether the poll succeeded.
    @discardableResult
    public func refresh() async -> Bool {
        if let inFlight { return await inFlight.value }
        let task = Task { await self.pollOnce() }
        inFlight = task
        let result = await task.value
        lastPoll = (ContinuousClock.now, result)
        inFlight = nil
        // Outside the shared poll, so a caller that needs a fresh `/api/tags` never joins one that has already read it.
        if result, !learning {
            learning = true
            await learnCapabilities()
            learning = false
        }
        return result
    }

    private func pollOnce() async -> Bool {
        do {
            let response = try await target.send(TargetRequest(method: .GET, path: "/api/tags"))
            let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
            guard response.isSuccess else {
                throw PollError(message: "GET /api/tags answered \(response.status)")
            }
            let models = try Inventory.models(fromTags: body)
            let before = await inventory.snapshot
            await inventory.update(tagsBody: body, models: models)
            if before.degraded { logger.info("target reachable again", metadata: ["models": "\(models.count)"]) }
            if before.degraded || before.models != Set(models.keys) { changed() }
            return true
        } catch {
            let message = (error as? TargetError)?.description ?? String(describing: error)
            let wasDegraded = await inventory.snapshot.degraded
            await inventory.markUnreachable(message, fromPoll: true)
            if !wasDegraded { logger.warning("inventory poll failed; serving last known inventory", metadata: ["error": "\(message)"]) }
            return false
        }
    }

    /// Asks `/api/show` about every model whose capabilities are not known for its current digest (ADR 0008).
    /// A failed `/api/show` is retried on the next poll; a target that reports no capabilities is remembered
    /// as such, so it is not asked again until the digest changes.
    private func learnCapabilities() async {
        for name in await inventory.modelsWithoutCapabilities {
            guard let digest = await inventory.snapshot.digests[name] else { continue }
            do {
                var body = ByteBuffer()
                body.writeString(#"{"model":"# + JSONObjectWriter.quoted(name) + "}")
                let response = try await target.send(TargetRequest(method: .POST, path: "/api/show", body: body))
                let show = try await response.body.collect(upTo: 16 * 1024 * 1024)
                guard response.isSuccess else { continue }
                let learned = ModelCapabilities.parse(show: show, digest: digest) ?? ModelCapabilities(digest: digest, capabilities: [])
                await inventory.setCapabilities(learned, for: name)
            } catch {
                logger.debug("could not read a model's capabilities", metadata: ["model": "\(name)", "error": "\(error)"])
                return
            }
        }
    }

    private struct PollError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

/// Sleeps for `duration`, returning early (by throwing) on cancellation or graceful shutdown.
package func gracefulShutdownAwareSleep(for duration: Duration) async throws {
    try await cancelWhenGracefulShutdown {
        try await Task.sleep(for: duration)
    }
}
