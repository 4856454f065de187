import AsyncHTTPClient
import ForemanDomain
import ForemanTarget
import Foundation
import GRDB
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Delivers the webhook events the ``JobStore`` wrote to the outbox, and retries them until they land or expire.
///
/// Delivery runs beside the worker and never blocks it. A job's later event waits while an earlier one is still
/// pending, so each receiver sees a job's states in order; events of different jobs go out concurrently.
///
/// Each attempt runs on its own, not in a batch that waits for its slowest member: a receiver that hangs until the
/// attempt's time limit delays nobody else's events. At most ``maxPerEndpoint`` attempts go to one endpoint (scheme,
/// host and port) at once, so a dead receiver with many jobs cannot take every slot either.
public actor WebhookOutbox: Service {
    /// Attempts in flight at once, in all.
    static let maxInFlight = 64
    /// Attempts in flight at once to one endpoint.
    static let maxPerEndpoint = 4

    /// When to try again and when to give up.
    public struct RetryPolicy: Sendable, Equatable {
        /// The wait after the first failed attempt; it doubles after each failure.
        public var base: Duration = .seconds(5)
        public var cap: Duration = .seconds(3600)
        /// How long after the event foreman keeps trying.
        public var giveUpAfter: Duration = .seconds(86_400)
        /// Each attempt's time limit.
        public var timeout: Duration = .seconds(15)
        /// How often due retries are looked for.
        public var tick: Duration = .seconds(1)

        public init() {}

        /// The wait before attempt `attempts + 1`, with ±20 % jitter so a recovering receiver is not hit all at once.
        func delay(afterAttempts attempts: Int) -> Duration {
            let exponent = min(attempts - 1, 30)
            let raw = min(base.seconds * pow(2, Double(exponent)), cap.seconds)
            return .milliseconds(Int64(raw * Double.random(in: 0.8...1.2) * 1000))
        }
    }

    private let pool: DatabasePool
    private let client: HTTPClient
    private let signer: WebhookSigner?
    private let policy: RetryPolicy
    private let logger: Logger
    private let metrics: ForemanMetrics
    private let wakeups: AsyncStream<Void>
    private let wakeupSource: AsyncStream<Void>.Continuation
    /// Deliveries (by `seq`) with an attempt under way.
    private var inFlight: Set<Int64> = []
    /// Attempts under way per endpoint.
    private var perEndpoint: [String: Int] = [:]
    /// Deliveries whose attempt ended while ``due()`` read the outbox: its snapshot may still show them pending.
    private var endedDuringRead: Set<Int64>?

    private let writer: WriterActivity

    public init(
        pool: DatabasePool,
        client: HTTPClient,
        signer: WebhookSigner?,
        policy: RetryPolicy,
        writer: WriterActivity = WriterActivity(),
        metrics: ForemanMetrics = .disabled,
        logger: Logger
    ) {
        self.writer = writer
        self.metrics = metrics
        self.pool = pool
        self.client = client
        self.signer = signer
        self.policy = policy
        self.logger = logger
        (wakeups, wakeupSource) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// A client fit for webhooks: no redirects (a 3xx is a failure, and following one is the classic SSRF bypass).
    public static func makeHTTPClient(timeout: Duration) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5), read: timeout.timeAmount)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Tells the outbox new events were committed.
    public nonisolated func wake() {
        wakeupSource.yield()
    }

    public func run() async throws {
        let tick = policy.tick
        let source = wakeupSource
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled, !Task.isShuttingDownGracefully {
                    try? await gracefulShutdownAwareSleep(for: tick)
                    source.yield()
                }
            }
            source.yield()
            for await _ in wakeups.cancelOnGracefulShutdown() {
                for delivery in await due() {
                    group.addTask {
                        await self.attempt(delivery)
                        await self.ended(delivery)
                    }
                }
            }
            // Stopping: attempts under way are cut short; their events are still pending and go out after the restart.
            group.cancelAll()
        }
    }

    /// The due events that may start now: not already under way, each job's oldest pending one, within the limits.
    /// Marks them under way.
    private func due() async -> [WebhookDelivery] {
        let room = Self.maxInFlight - inFlight.count
        guard room > 0 else { return [] }
        let candidates: [WebhookDelivery]
        endedDuringRead = []
        defer { endedDuringRead = nil }
        do {
            // At most twice an endpoint's share of each endpoint's due events: its attempts under way, and as many
            // to start. Without the cap, the due events of one dead receiver, oldest first, would fill every read.
            candidates = try await pool.read { db in
                try WebhookDelivery.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM (
                          SELECT d.*, ROW_NUMBER() OVER (
                              PARTITION BY foreman_endpoint(d.url) ORDER BY d.next_attempt_at, d.seq) AS endpoint_rank
                          FROM webhook_delivery AS d
                          WHERE d.state = 'pending' AND d.next_attempt_at <= ?
                            AND NOT EXISTS (SELECT 1 FROM webhook_delivery AS e
                                            WHERE e.job_id = d.job_id AND e.state = 'pending' AND e.seq < d.seq))
                        WHERE endpoint_rank <= ?
                        ORDER BY next_attempt_at LIMIT ?
                        """,
                    arguments: [DatabaseDate.storage(Date()), 2 * Self.maxPerEndpoint, Self.maxInFlight]
                )
            }
        } catch {
            logger.error("could not read the webhook outbox", metadata: ["error": "\(error)"])
            return []
        }
        var starting: [WebhookDelivery] = []
        for delivery in candidates where inFlight.count < Self.maxInFlight {
            guard let seq = delivery.seq, !inFlight.contains(seq), endedDuringRead?.contains(seq) != true else { continue }
            let endpoint = Self.endpoint(of: delivery.url)
            guard perEndpoint[endpoint, default: 0] < Self.maxPerEndpoint else { continue }
            inFlight.insert(seq)
            perEndpoint[endpoint, default: 0] += 1
            starting.append(delivery)
        }
        return starting
    }

    /// An attempt ended: its slot is free, and whatever waited for it (the job's next event, the endpoint's next
    /// delivery) may be due.
    private func ended(_ delivery: WebhookDelivery) {
        if let seq = delivery.seq {
            inFlight.remove(seq)
            endedDuringRead?.insert(seq)
        }
        let endpoint = Self.endpoint(of: delivery.url)
        perEndpoint[endpoint, default: 1] -= 1
        if perEndpoint[endpoint] == 0 { perEndpoint[endpoint] = nil }
        wakeupSource.yield()
    }

    /// Scheme, host and port of `url`: what one receiver is.
    static func endpoint(of url: String) -> String {
        guard let components = URLComponents(string: url) else { return url }
        return "\(components.scheme ?? "")://\(components.host ?? ""):\(components.port.map(String.init) ?? "")"
    }

    /// ``endpoint(of:)`` as the SQL function `foreman_endpoint(url)`, which every connection has
    /// (``ForemanDatabase``).
    static let endpointFunction = DatabaseFunction("foreman_endpoint", argumentCount: 1, pure: true) { values in
        String.fromDatabaseValue(values[0]).map(endpoint(of:))
    }

    private func attempt(_ delivery: WebhookDelivery) async {
        let outcome = await send(delivery)
        var delivery = delivery
        delivery.attempts += 1
        let now = Date()
        var metadata: Logger.Metadata = [
            "job": "\(delivery.jobID)", "webhook_id": "\(delivery.webhookID)", "attempt": "\(delivery.attempts)",
        ]
        switch outcome {
        case .success:
            delivery.state = .delivered
            delivery.deliveredAt = now
            delivery.lastError = nil
            logger.debug("webhook delivered", metadata: metadata)
            metrics.webhookDelivery("delivered")
        case .failure(let reason):
            delivery.lastError = reason
            let next = now.addingTimeInterval(policy.delay(afterAttempts: delivery.attempts).seconds)
            metadata["error"] = "\(reason)"
            if next.timeIntervalSince(delivery.createdAt) > policy.giveUpAfter.seconds {
                delivery.state = .failed
                logger.warning("webhook given up", metadata: metadata)
                metrics.webhookDelivery("given_up")
            } else {
                delivery.nextAttemptAt = next
                logger.info("webhook failed; will retry", metadata: metadata)
                metrics.webhookDelivery("retrying")
            }
        }
        do {
            try await writer.around { try await pool.write { [delivery] db in try delivery.update(db) } }
        } catch {
            logger.error("could not record a webhook attempt", metadata: ["error": "\(error)"])
        }
    }

    private enum Outcome {
        case success
        case failure(String)
    }

    private func send(_ delivery: WebhookDelivery) async -> Outcome {
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        let timestamp = Int(Date().timeIntervalSince1970)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "foreman/\(ForemanVersion.current)")
        request.headers.add(name: "webhook-id", value: delivery.webhookID)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        if let signer {
            request.headers.add(name: "webhook-signature", value: signer.signature(id: delivery.webhookID, timestamp: timestamp, body: delivery.payload))
        }
        request.body = .bytes(ByteBuffer(bytes: delivery.payload))
        do {
            let response = try await client.execute(request, timeout: policy.timeout.timeAmount)
            // Read (and drop) a little of the body so the connection can be reused; never store it.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            guard (200..<300).contains(response.status.code) else { return .failure("HTTP \(response.status.code)") }
            return .success
        } catch {
            return .failure(String(describing: error))
        }
    }
}
