import AsyncHTTPClient
import ForemanDomain
import ForemanStore
import ForemanTarget
import Foundation
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
        /// How often due retries are looked for while any event is pending; with none, the outbox waits for a commit.
        public var tick: Duration = .seconds(1)

        public init() {}

        /// The wait before attempt `attempts + 1`, with ±20 % jitter so a recovering receiver is not hit all at once.
        func delay(afterAttempts attempts: Int) -> Duration {
            let exponent = min(attempts - 1, 30)
            let raw = min(base.seconds * pow(2, Double(exponent)), cap.seconds)
            return .milliseconds(Int64(raw * Double.random(in: 0.8...1.2) * 1000))
        }
    }

    private let store: any JobStore
    private let client: HTTPClient
    private let signer: WebhookSigner?
    private let policy: RetryPolicy
    private let logger: Logger
    private let metrics: ForemanMetrics
    private let wakeup: Wakeup
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
    /// Whether the last read of the outbox failed: it is tried again on the clock, since no commit may come to wake it.
    private var lastReadFailed = false

    public init(
        store: any JobStore,
        wakeup: Wakeup,
        client: HTTPClient,
        signer: WebhookSigner?,
        policy: RetryPolicy,
        metrics: ForemanMetrics = .disabled,
        logger: Logger
    ) {
        self.metrics = metrics
        self.store = store
        self.wakeup = wakeup
        self.client = client
        self.signer = signer
        self.policy = policy
        self.logger = logger
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
        wakeup.signal()
    }

    public func run() async throws {
        let tick = policy.tick
        let wakeup = self.wakeup
        // Wound after a read that leaves events pending: a retry or a resting endpoint comes due with time, and
        // nothing else would wake the loop for it. With nothing pending no timer runs, and an idle foreman leaves
        // its threads asleep (ADR 0024).
        let alarm = Wakeup()
        await withDiscardingTaskGroup { group in
            group.addTask { await wakeup.signal(after: tick, eachTime: alarm) }
            wakeup.signal()
            for await _ in wakeup.signals.cancelOnGracefulShutdown() {
                for delivery in await due() {
                    group.addTask {
                        await self.attempt(delivery)
                        await self.ended(delivery)
                    }
                }
                if !endpoints.isEmpty || lastReadFailed { alarm.signal() }
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
        let asks: [OutboxAsk] = endpoints.compactMap { endpoint, health in
            let busy = perEndpoint[endpoint, default: 0]
            let room = health.allowance(at: now, full: Self.maxPerEndpoint) - busy
            return room > 0 ? OutboxAsk(endpoint: endpoint, room: room, busy: busy) : nil
        }
        let read: OutboxRead
        endedDuringRead = []
        defer { endedDuringRead = nil }
        do {
            read = try await store.dueDeliveries(
                asks: asks, known: Set(endpoints.keys), fresh: Self.maxPerEndpoint, after: seenThrough, now: now
            )
        } catch {
            logger.error("could not read the webhook outbox", metadata: ["error": "\(error)"])
            lastReadFailed = true
            return []
        }
        lastReadFailed = false
        metrics.webhookOutboxRead()
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

    /// An attempt ended: its slot is free, and whatever waited for it (the job's next event, the endpoint's next
    /// delivery) may be due.
    private func ended(_ delivery: WebhookDelivery) {
        if let seq = delivery.seq {
            inFlight.remove(seq)
            endedDuringRead?.insert(seq)
        }
        perEndpoint[delivery.endpoint, default: 1] -= 1
        if perEndpoint[delivery.endpoint] == 0 { perEndpoint[delivery.endpoint] = nil }
        wakeup.signal()
    }

    private func attempt(_ delivery: WebhookDelivery) async {
        let outcome = await send(delivery)
        var delivery = delivery
        delivery.attempts += 1
        let now = Date()
        var metadata: Logger.Metadata = ["webhook_id": "\(delivery.webhookID)", "attempt": "\(delivery.attempts)"]
        if let job = delivery.jobID { metadata["job"] = "\(job)" }
        if let batch = delivery.batchID { metadata["batch"] = "\(batch)" }
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
            let givenUp = try await store.recordAttempt(delivery, givingUpBefore: giveUpBefore)
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
