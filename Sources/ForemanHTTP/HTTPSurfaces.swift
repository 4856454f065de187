import ForemanDomain
import ForemanEngine
import ForemanTarget
import Hummingbird
import Logging
import Prometheus

/// foreman's HTTP surfaces as one responder: Ollama's `/api/*`, OpenAI's `/v1/*` (its files and batches included), `/jobs`, `/healthz` and `/metrics`, behind the request
/// log, the error mapping, the bearer check and the drain gate, in that order.
///
/// The app builds the engine and hands its parts here; everything a route does with jobs goes through ``JobService``.
public enum HTTPSurfaces {
    /// What the surfaces take from the configuration.
    public struct Settings: Sendable {
        /// `FOREMAN_TOKEN`; `nil` leaves the surfaces open (loopback only, the configuration checks that).
        public var token: String?
        public var metricsPublic: Bool
        public var logBodies: Bool
        public var maxBodyBytes: Int
        /// `FOREMAN_MAX_FILE_BYTES`: the largest file `/v1/files` takes.
        public var maxFileBytes: Int
        /// `FOREMAN_MAX_WAIT`: how long a native call may wait to start.
        public var maxWait: Duration
        public var webhookAddresses: WebhookAddressPolicy
        /// Each provider's address, by name, as `/healthz` reports it.
        public var providerURLs: [String: String]

        public init(
            token: String?, metricsPublic: Bool, logBodies: Bool, maxBodyBytes: Int, maxFileBytes: Int, maxWait: Duration,
            webhookAddresses: WebhookAddressPolicy, providerURLs: [String: String]
        ) {
            self.maxFileBytes = maxFileBytes
            self.token = token
            self.metricsPublic = metricsPublic
            self.logBodies = logBodies
            self.maxBodyBytes = maxBodyBytes
            self.maxWait = maxWait
            self.webhookAddresses = webhookAddresses
            self.providerURLs = providerURLs
        }
    }

    /// The largest embeddings answer the surfaces relay: the provider's embeddings lane is built with it.
    public static let embeddingsMaxResponseBytes = EmbeddingsRoute.maxResponseBytes

    /// The router of every surface, ready to serve.
    public static func responder(
        settings: Settings,
        service: JobService,
        batches: BatchService,
        keys: KeyRing,
        gate: ShutdownGate,
        registry: PrometheusCollectorRegistry,
        logger: Logger
    ) -> RouterResponder<ConnectionContext> {
        let router = Router(context: ConnectionContext.self)
        router.add(middleware: RequestLogMiddleware(logger: logger, logBodies: settings.logBodies, maxBodyBytes: settings.maxBodyBytes))
        var routes = OllamaRoutes.routes.merging(JobsRoutes<ConnectionContext>.routes) { a, _ in a }.merging(OpenAIRoutes.routes) { a, _ in a }
            .merging(FilesRoutes<ConnectionContext>.routes) { a, _ in a }.merging(BatchesRoutes<ConnectionContext>.routes) { a, _ in a }
            .merging(AdminRoutes.routes) { a, _ in a }.merging(ModelManagementRoutes.routes) { a, _ in a }
        routes["/healthz"] = [.get]
        routes["/livez"] = [.get]
        routes["/queue"] = [.get]
        routes["/readyz"] = [.get]
        routes["/metrics"] = [.get]
        router.add(middleware: ErrorMiddleware(routes: routes))
        let verifier = settings.token.map(BearerTokenVerifier.init(token:))
        let limiter = RequestLimiter()
        if let verifier {
            router.add(middleware: AuthMiddleware(verifier: verifier, keys: keys, limiter: limiter, ledger: service.ledger, metricsPublic: settings.metricsPublic))
        }
        router.add(middleware: DrainMiddleware(gate: gate))
        HealthRoutes(verifier: verifier, providerURLs: settings.providerURLs, service: service, gate: gate).register(on: router)
        MetricsRoutes(registry: registry).register(on: router)
        OllamaRoutes(
            generation: QueuedGeneration(service: service, maxWait: settings.maxWait),
            fleet: service.fleet,
            maxBodyBytes: settings.maxBodyBytes
        ).register(on: router)
        OpenAIRoutes(
            generation: QueuedGeneration(service: service, maxWait: settings.maxWait), fleet: service.fleet, maxBodyBytes: settings.maxBodyBytes
        ).register(on: router)
        JobsRoutes(service: service, maxBodyBytes: settings.maxBodyBytes, webhooks: settings.webhookAddresses).register(on: router)
        ModelManagementRoutes(manager: service.models, maxBodyBytes: settings.maxBodyBytes).register(on: router)
        QueueRoutes(service: service).register(on: router)
        FilesRoutes(batches: batches, maxFileBytes: settings.maxFileBytes).register(on: router)
        AdminRoutes(keys: keys, limiter: limiter, service: service, batches: batches, maxBodyBytes: settings.maxBodyBytes).register(on: router)
        BatchesRoutes(batches: batches, maxBodyBytes: settings.maxBodyBytes, webhooks: settings.webhookAddresses).register(on: router)
        MethodNotAllowed.register(routes, on: router)
        return router.buildResponder()
    }
}
