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
    let store = try JobStore(pool: pool, maxQueue: config.maxQueue)
    let orphans = try await store.failOrphanedAPIJobs()
    if orphans > 0 {
        logger.notice("failed native jobs interrupted by the last restart", metadata: ["count": "\(orphans)"])
    }

    let httpClient = LiveOllamaTarget.makeHTTPClient(readTimeout: config.upstreamReadTimeout)
    let target = LiveOllamaTarget(client: httpClient, baseURL: config.ollamaURL, token: config.ollamaToken, headTimeout: config.upstreamTimeout)
    let inventory = Inventory()
    let poller = InventoryPoller(target: target, inventory: inventory, interval: config.pollInterval, logger: logger)
    let broker = JobBroker()
    let worker = Worker(store: store, target: target, inventory: inventory, broker: broker, logger: logger)
    let queue = JobQueue(store: store, broker: broker, worker: worker, logger: logger)

    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: ErrorMiddleware())
    if let token = config.token {
        router.add(middleware: AuthMiddleware(verifier: BearerTokenVerifier(token: token)))
    }
    HealthRoutes(targetURL: config.ollamaURL, inventory: inventory, store: store, worker: worker).register(on: router)
    OllamaRoutes(
        generation: QueuedGeneration(queue: queue, inventory: inventory, maxWait: config.maxWait),
        proxy: TargetProxy(target: target),
        inventory: inventory,
        poller: poller,
        maxBodyBytes: config.maxBodyBytes
    ).register(on: router)
    var routes = OllamaRoutes<BasicRequestContext>.routes
    routes["/healthz"] = [.get]
    MethodNotAllowed.register(routes, on: router)

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(config.address.host, port: config.address.port), serverName: "foreman"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? config.address.port) },
        logger: logger
    )
    app.addServices(poller, worker, HTTPClientService(client: httpClient))
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
