import AsyncHTTPClient
import ForemanCore
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle

/// Builds the whole foreman service from a configuration: database, target client, poller, worker, routes.
///
/// - Parameters:
///   - config: the resolved configuration (see ``ForemanConfig/resolve(environment:overrides:)``).
///   - logger: the root logger.
///   - onServerRunning: called with the bound port once the server listens (port 0 picks a free one).
public func buildApplication(
    config: ForemanConfig,
    logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    try config.validate()
    let pool = try ForemanDatabase.open(path: config.databasePath)
    let webhookClient = WebhookOutbox.makeHTTPClient(timeout: config.webhookRetry.timeout)
    let outbox = WebhookOutbox(
        pool: pool,
        client: webhookClient,
        signer: try config.webhookSecret.map { try WebhookSigner(secret: $0) },
        policy: config.webhookRetry,
        logger: logger
    )
    let store = try JobStore(pool: pool, maxQueue: config.maxQueue, outboxChanged: { outbox.wake() })
    let recovery = try await store.recoverAfterRestart(maxAttempts: config.maxAttempts)
    if recovery != JobStore.Recovery() {
        logger.notice(
            "recovered jobs left by the last run",
            metadata: ["failed_native": "\(recovery.failedNative)", "requeued": "\(recovery.requeued)", "exhausted": "\(recovery.exhausted)"]
        )
    }

    let httpClient = LiveOllamaTarget.makeHTTPClient(connectTimeout: config.targetConnectTimeout, readTimeout: config.upstreamReadTimeout)
    let target = LiveOllamaTarget(client: httpClient, baseURL: config.ollamaURL, token: config.ollamaToken, headTimeout: config.upstreamTimeout)
    let inventory = Inventory()
    let poller = InventoryPoller(target: target, inventory: inventory, interval: config.pollInterval, logger: logger)
    let broker = JobBroker()
    let residency = Residency(target: target, inventory: inventory, declaredEmbedding: config.embedModels, logger: logger)
    let embeddings = EmbeddingLane(
        residency: residency, target: target, concurrency: config.embedConcurrency, maxWaiting: config.maxQueue,
        defaultNumCtx: config.embedNumCtx, logger: logger
    )
    let worker = Worker(
        store: store, target: target, inventory: inventory, broker: broker, lane: .generation(config.scheduling, residency),
        retry: config.targetRetry, logger: logger
    )
    let embedWorker = Worker(
        store: store, target: target, inventory: inventory, broker: broker,
        lane: .embeddings(embeddings, concurrency: config.embedConcurrency, maxResponseBytes: EmbeddingsRoute.maxResponseBytes),
        retry: config.targetRetry, logger: logger
    )
    let queue = JobQueue(store: store, broker: broker, worker: worker, embedWorker: embedWorker, logger: logger)

    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: ErrorMiddleware())
    if let token = config.token {
        router.add(middleware: AuthMiddleware(verifier: BearerTokenVerifier(token: token)))
    }
    HealthRoutes(targetURL: config.ollamaURL, inventory: inventory, store: store, worker: worker, residency: residency, embeddings: embeddings)
        .register(on: router)
    let modelCheck = ModelCheck(inventory: inventory, poller: poller)
    OllamaRoutes(
        generation: QueuedGeneration(queue: queue, inventory: inventory, maxWait: config.maxWait),
        proxy: TargetProxy(target: target),
        embeddings: EmbeddingsRoute(lane: embeddings),
        inventory: inventory,
        poller: poller,
        modelCheck: modelCheck,
        maxBodyBytes: config.maxBodyBytes
    ).register(on: router)
    JobsRoutes(queue: queue, modelCheck: modelCheck, maxBodyBytes: config.maxBodyBytes).register(on: router)
    var routes = OllamaRoutes<BasicRequestContext>.routes.merging(JobsRoutes<BasicRequestContext>.routes) { a, _ in a }
    routes["/healthz"] = [.get]
    MethodNotAllowed.register(routes, on: router)

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(config.address.host, port: config.address.port), serverName: "foreman"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? config.address.port) },
        logger: logger
    )
    // Services stop in reverse order: the clients are listed first so they outlive everything that uses them.
    app.addServices(
        HTTPClientService(client: httpClient),
        HTTPClientService(client: webhookClient),
        poller,
        RetentionPruner(store: store, retention: config.retention, logger: logger),
        outbox,
        embedWorker,
        worker
    )
    return app
}

/// Shuts the target client down when the service group stops.
struct HTTPClientService: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
