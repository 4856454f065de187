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
/// host and port) at once, and an endpoint that fails rests (``EndpointHealth``, ADR 0015): a dead receiver costs
/// one attempt per rest, whatever its backlog, and the outbox reads nothing of it meanwhile.
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
    /// Every endpoint with pending events, and whether it may be sent to.
    private var endpoints: [String: EndpointHealth] = [:]
    /// The largest delivery `seq` read so far: events after it may name endpoints not yet known.
    private var seenThrough: Int64 = 0

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

    /// The due events that may start now: not already under way, each job's oldest pending one, within the limits
    /// of each endpoint that is not resting. Marks them under way.
    private func due() async -> [WebhookDelivery] {
        guard Self.maxInFlight - inFlight.count > 0 else { return [] }
        let now = Date()
        // How many more of each endpoint's events may start, and how many of its due events are already under way
        // (the read skips past those).
        let asks: [(endpoint: String, room: Int, busy: Int)] = endpoints.compactMap { endpoint, health in
            let busy = perEndpoint[endpoint, default: 0]
            let room = health.allowance(at: now, full: Self.maxPerEndpoint) - busy
            return room > 0 ? (endpoint, room, busy) : nil
        }
        let read: DueRead
        endedDuringRead = []
        defer { endedDuringRead = nil }
        do {
            let known = Set(endpoints.keys)
            read = try await pool.read { [seenThrough] db in
                try DueRead(db, asks: asks, known: known, fresh: Self.maxPerEndpoint, after: seenThrough, now: now)
            }
        } catch {
            logger.error("could not read the webhook outbox", metadata: ["error": "\(error)"])
            return []
        }
        seenThrough = max(seenThrough, read.seenThrough)
        for endpoint in read.newEndpoints where endpoints[endpoint] == nil { endpoints[endpoint] = EndpointHealth() }
        for endpoint in read.drained where perEndpoint[endpoint] == nil { endpoints[endpoint] = nil }
        var starting: [WebhookDelivery] = []
        for delivery in read.deliveries where inFlight.count < Self.maxInFlight {
            guard let seq = delivery.seq, !inFlight.contains(seq), endedDuringRead?.contains(seq) != true else { continue }
            let allowance = endpoints[delivery.endpoint]?.allowance(at: now, full: Self.maxPerEndpoint) ?? 0
            guard perEndpoint[delivery.endpoint, default: 0] < allowance else { continue }
            inFlight.insert(seq)
            perEndpoint[delivery.endpoint, default: 0] += 1
            starting.append(delivery)
        }
        return starting
    }

    /// What one read of the outbox found.
    private struct DueRead {
        var deliveries: [WebhookDelivery] = []
        /// Endpoints of events written since the last read.
        var newEndpoints: Set<String> = []
        /// Endpoints asked about that have no pending event left.
        var drained: [String] = []
        var seenThrough: Int64

        /// Reads the due events of the endpoints in `asks`, and of endpoints seen for the first time (not in `known`),
        /// which may start `fresh` attempts, so a new endpoint's first event goes out on the wake its commit sent.
        init(
            _ db: Database, asks: [(endpoint: String, room: Int, busy: Int)], known: Set<String>, fresh: Int, after seen: Int64, now: Date
        ) throws {
            var asks = asks
            seenThrough = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM webhook_delivery") ?? seen
            if seenThrough > seen {
                newEndpoints = Set(try String.fetchAll(
                    db, sql: "SELECT DISTINCT endpoint FROM webhook_delivery WHERE seq > ? AND state = 'pending'", arguments: [seen]
                ))
                asks += newEndpoints.subtracting(known).map { ($0, fresh, 0) }
            }
            // One endpoint's due events in order, from the partial index; a job's later event waits for its earlier one.
            let dueOfEndpoint = try db.cachedStatement(sql: """
                SELECT d.* FROM webhook_delivery AS d
                WHERE d.state = 'pending' AND d.endpoint = ? AND d.next_attempt_at <= ?
                  AND NOT EXISTS (SELECT 1 FROM webhook_delivery AS e WHERE e.job_id = d.job_id AND e.state = 'pending' AND e.seq < d.seq)
                ORDER BY d.next_attempt_at, d.seq LIMIT ?
                """)
            let pending = try db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM webhook_delivery WHERE state = 'pending' AND endpoint = ?)")
            let stamp = DatabaseDate.storage(now)
            for ask in asks {
                let found = try WebhookDelivery.fetchAll(dueOfEndpoint, arguments: [ask.endpoint, stamp, ask.room + ask.busy])
                deliveries += found
                if found.isEmpty, ask.busy == 0, try Bool.fetchOne(pending, arguments: [ask.endpoint]) != true {
                    drained.append(ask.endpoint)
                }
            }
            deliveries.sort { ($0.nextAttemptAt, $0.seq ?? 0) < ($1.nextAttemptAt, $1.seq ?? 0) }
        }
    }

    /// An attempt ended: its slot is free, and whatever waited for it (the job's next event, the endpoint's next
    /// delivery) may be due.
    private func ended(_ delivery: WebhookDelivery) {
        if let seq = delivery.seq {
            inFlight.remove(seq)
            endedDuringRead?.insert(seq)
        }
        perEndpoint[delivery.endpoint, default: 1] -= 1
        if perEndpoint[delivery.endpoint] == 0 { perEndpoint[delivery.endpoint] = nil }
        wakeupSource.yield()
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
        // The endpoint's health moves with every attempt; a failure that starts a rest also gives up the endpoint's
        // events past the retry window, which a resting endpoint would otherwise never attempt again.
        var giveUpBefore: Date?
        if delivery.state == .delivered {
            endpoints[delivery.endpoint]?.succeeded()
        } else if var health = endpoints[delivery.endpoint] {
            let before = health.restingUntil
            health.failed(at: now) { self.policy.delay(afterAttempts: $0) }
            endpoints[delivery.endpoint] = health
            if health.restingUntil != before { giveUpBefore = now.addingTimeInterval(-policy.giveUpAfter.seconds) }
        }
        do {
            let givenUp = try await writer.around {
                try await pool.write { [delivery, giveUpBefore] db -> Int in
                    try delivery.update(db)
                    guard let giveUpBefore else { return 0 }
                    try db.execute(
                        sql: """
                            UPDATE webhook_delivery SET state = 'failed', last_error = 'given up: the endpoint kept failing'
                            WHERE state = 'pending' AND endpoint = ? AND created_at < ?
                            """,
                        arguments: [delivery.endpoint, DatabaseDate.storage(giveUpBefore)]
                    )
                    return db.changesCount
                }
            }
            for _ in 0..<givenUp { metrics.webhookDelivery("given_up") }
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
