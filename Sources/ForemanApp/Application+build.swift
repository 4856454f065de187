import AsyncHTTPClient
import ForemanDomain
import ForemanEngine
import ForemanHTTP
import ForemanStore
import ForemanTarget
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds the whole foreman service from a configuration: database, target client, poller, workers, routes.
///
/// - Parameters:
///   - config: the resolved configuration (see ``ForemanConfig/resolve(environment:overrides:)``).
///   - logger: the root logger.
///   - onServerRunning: called with the bound TCP port once the server listens (port 0 picks a free one).
///   - walFlush: how a durable write's WAL reaches the disk (tests hold it to see who waits for it).
public func buildApplication(
    config: ForemanConfig,
    logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
    walFlush: @escaping @Sendable (Int32) -> Int32 = SQLiteJobStore.flushToDisk
) async throws -> ForemanService {
    try config.validate()
    let registry = PrometheusCollectorRegistry()
    var factory = PrometheusMetricsFactory(registry: registry)
    factory.defaultDurationHistogramBuckets = [
        .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
    ]
    let metrics = ForemanMetrics(factory: factory)

    // Before anything reads or writes the file: a second foreman must not run recovery on a database in use.
    let lock = try DatabaseLock(databasePath: config.databasePath)
    let pool = try ForemanDatabase.open(path: config.databasePath)
    let webhookClient = WebhookOutbox.makeHTTPClient(timeout: config.webhookRetry.timeout)
    do {
        return try await assemble(
            config: config, logger: logger, metrics: metrics, registry: registry, lock: lock, pool: pool, webhookClient: webhookClient,
            walFlush: walFlush, onServerRunning: onServerRunning
        )
    } catch {
        // A client that is not shut down traps when it is released; the real cause must reach the operator instead.
        try? await webhookClient.shutdown()
        try? pool.close()
        throw error
    }
}

/// The rest of ``buildApplication(config:logger:onServerRunning:walFlush:)``, once the database and the webhook client exist.
private func assemble(
    config: ForemanConfig,
    logger: Logger,
    metrics: ForemanMetrics,
    registry: PrometheusCollectorRegistry,
    lock: DatabaseLock,
    pool: DatabasePool,
    webhookClient: HTTPClient,
    walFlush: @escaping @Sendable (Int32) -> Int32,
    onServerRunning: @escaping @Sendable (Int) async -> Void
) async throws -> ForemanService {
    // Everything that can fail comes before the target's client is made: nothing else would shut it down.
    if let socketPath = config.socketPath { try UnixSocketFile.prepare(socketPath) }
    let outboxWakeup = Wakeup()
    let rowsWakeup = Wakeup()
    let batchesWakeup = Wakeup()
    let ledger = KeyLedger(metrics: metrics)
    let transitions = KeyLedgerObserver(TransitionLog(metrics: metrics, logger: logger), ledger: ledger)
    let store = try SQLiteJobStore(
        pool: pool, maxQueue: config.maxQueue, observer: BatchWakingObserver(transitions, wakeup: batchesWakeup), logger: logger,
        outboxChanged: { outboxWakeup.signal() }, behindHanded: { rowsWakeup.signal() }, walFlush: walFlush
    )
    let outbox = WebhookOutbox(
        store: store,
        wakeup: outboxWakeup,
        client: webhookClient,
        signer: try config.webhookSecret.map { try WebhookSigner(secret: $0) },
        policy: config.webhookRetry,
        metrics: metrics,
        logger: logger
    )
    let keys = KeyRing(store: store, ledger: ledger)
    try await keys.load()
    let recovery = try await store.recoverAfterRestart(maxAttempts: config.maxAttempts)
    if recovery != StoreRecovery() {
        logger.notice(
            "recovered jobs left by the last run",
            metadata: ["failed_native": "\(recovery.failedNative)", "requeued": "\(recovery.requeued)", "exhausted": "\(recovery.exhausted)"]
        )
    }
    // After the recovery, which settles what the last run left: the keys' accounts start from what is left queued.
    let today = UTCDay(Date())
    ledger.load(active: try await store.activeGenerations(), tokens: try await store.tokensUsed(on: today), on: today)

    let broker = JobBroker()
    let settings = config.providerSettings(embeddingMaxResponseBytes: HTTPSurfaces.embeddingsMaxResponseBytes)
    let declarations = config.providerDeclarations
    // Only a plain-HTTP client can fail to be made (a token it cannot send), and an HTTPS client that is dropped
    // without a shutdown traps: the plain ones are made first.
    var targets: [String: (client: any OllamaTarget, closing: any Service)] = [:]
    for declaration in declarations.sorted(by: { $0.isPlainHTTP && !$1.isPlainHTTP }) {
        targets[declaration.name] = try makeTarget(declaration, config: config, metrics: metrics.forProvider(declaration.name), logger: logger)
    }
    // Model management has its own client (ADR 0023), made after the targets' for the same reason as theirs.
    let managementClient = ModelManagementTarget.makeHTTPClient(connectTimeout: config.targetConnectTimeout, readTimeout: config.upstreamReadTimeout)
    var providers: [Provider] = []
    var targetServices: [any Service] = [ClosingService { try await managementClient.shutdown() }]
    for declaration in declarations {
        guard let (target, targetService) = targets[declaration.name] else { continue }
        targetServices.append(targetService)
        let management = ModelManagementTarget(
            client: managementClient, baseURL: declaration.address, token: declaration.token, headTimeout: config.upstreamTimeout
        )
        providers.append(
            Provider(
                name: declaration.name, kind: declaration.kind, concurrency: declaration.concurrency, inFleet: config.providers != nil,
                target: target, management: management, settings: settings, store: store, broker: broker, observer: transitions, metrics: metrics,
                logger: logger
            )
        )
    }
    let fleet = Fleet(providers: providers, namesProviders: config.providers != nil)
    let service = JobService(store: store, broker: broker, fleet: fleet, ledger: ledger, usage: store, logger: logger)
    let batches = BatchRunner(store: store, service: service, wakeup: batchesWakeup, logger: logger)
    let gate = ShutdownGate()

    let responder = HTTPSurfaces.responder(
        settings: HTTPSurfaces.Settings(
            token: config.token, metricsPublic: config.metricsPublic, logBodies: config.logBodies, maxBodyBytes: config.maxBodyBytes,
            maxFileBytes: config.maxFileBytes, maxWait: config.maxWait, webhookAddresses: config.webhookAddresses,
            providerURLs: Dictionary(declarations.map { ($0.name, $0.url) }, uniquingKeysWith: { first, _ in first })
        ),
        service: service, batches: BatchService(runner: batches), keys: keys, gate: gate, registry: registry, logger: logger
    )
    let connections = ConnectionBudget(
        limit: config.maxConnections ?? ConnectionBudget.limit(forDescriptors: DescriptorLimit.current), metrics: metrics, logger: logger
    )
    let ready = ListenersReady(count: config.socketPath == nil ? 1 : 2, then: onServerRunning)

    var servers: [any Service] = [
        ForemanServer(
            responder: responder,
            headerTimeout: config.headerTimeout,
            idleTimeout: config.idleTimeout,
            configuration: .init(
                address: .hostname(config.address.host, port: config.address.port), serverName: "foreman", backlog: config.listenBacklog,
                availableConnectionsDelegate: connections.delegate
            ),
            onServerRunning: { channel in await ready.listening(port: channel.localAddress?.port ?? config.address.port) },
            logger: logger
        )
    ]
    if let socketPath = config.socketPath {
        servers.append(
            ForemanServer(
                responder: responder,
                headerTimeout: config.headerTimeout,
                idleTimeout: config.idleTimeout,
                configuration: .init(address: .unixDomainSocket(path: socketPath), serverName: "foreman", backlog: config.listenBacklog,
                availableConnectionsDelegate: connections.delegate),
                onServerRunning: { _ in
                    // Only the owner may talk to foreman through the socket: it bypasses no auth, but it is local.
                    chmod(socketPath, 0o600)
                    logger.info("serving on unix socket", metadata: ["path": "\(socketPath)"])
                    await ready.listening(port: nil)
                },
                logger: logger
            )
        )
    }

    // Services stop in reverse order (ADR 0009): the drain first, then the servers, the workers, the outbox, the
    // native rows' writer, the clients, the checkpointer and the database last, so everything that uses something
    // stops before it.
    let services: [any Service] = [
        DatabaseCloser(pool: pool, lock: lock, logger: logger),
        WALCheckpointer(pool: pool, logger: logger),
    ] + targetServices + [
        ClosingService { try await webhookClient.shutdown() },
    ] + fleet.providers.map(\.poller) + [
        RetentionPruner(store: store, retention: config.retention, logger: logger),
        HeapTrimmer(releaseCaches: { pool.releaseMemoryEventually() }, logger: logger),
        NativeRowWriter(store: store, wakeup: rowsWakeup, logger: logger),
        outbox,
        batches,
    ] + fleet.providers.flatMap { [$0.embeddingsWorker, $0.generationWorker] as [any Service] }
        + servers + [ShutdownDrain(gate: gate, service: service, grace: config.shutdownGrace, logger: logger)]
    return ForemanService(services: services, logger: logger)
}

/// foreman as one service: its parts in one service group, stopped in order on a graceful shutdown.
public struct ForemanService: Service {
    let services: [any Service]
    let logger: Logger

    public func run() async throws {
        var configuration = ServiceGroupConfiguration(services: services, logger: logger)
        configuration.maximumGracefulShutdownDuration = nil
        try await ServiceGroup(configuration: configuration).run()
    }
}

/// Calls `onServerRunning` with the TCP port once every listener (TCP, and the unix socket when configured) is up.
private actor ListenersReady {
    private var remaining: Int
    private var port: Int?
    private let then: @Sendable (Int) async -> Void

    init(count: Int, then: @escaping @Sendable (Int) async -> Void) {
        self.remaining = count
        self.then = then
    }

    func listening(port: Int?) async {
        if let port { self.port = port }
        remaining -= 1
        if remaining == 0, let tcpPort = self.port { await then(tcpPort) }
    }
}

/// The client of one provider, and the service that closes its connections when foreman stops: plain HTTP goes
/// through ``HTTP1Target``, HTTPS through AsyncHTTPClient (ADR 0010); an `openai` provider's client is wrapped in
/// the translation to Ollama's shapes (ADR 0017).
private func makeTarget(
    _ declaration: ProviderDeclaration, config: ForemanConfig, metrics: ForemanMetrics, logger: Logger
) throws -> (client: any OllamaTarget, closing: any Service) {
    let address = declaration.address
    let client: any OllamaTarget
    let closing: any Service
    if declaration.isPlainHTTP, let url = URL(string: address) {
        let target = try HTTP1Target(
            url: url,
            token: declaration.token,
            connectTimeout: config.targetConnectTimeout,
            headTimeout: config.upstreamTimeout,
            readTimeout: config.upstreamReadTimeout,
            failures: { metrics.targetError($0.kind) }
        )
        (client, closing) = (target, ClosingService { await target.closeIdleConnections() })
    } else {
        let http = LiveOllamaTarget.makeHTTPClient(connectTimeout: config.targetConnectTimeout, readTimeout: config.upstreamReadTimeout)
        let target = LiveOllamaTarget(
            client: http, baseURL: address, token: declaration.token, headTimeout: config.upstreamTimeout, failures: { metrics.targetError($0.kind) }
        )
        (client, closing) = (target, ClosingService { try await http.shutdown() })
    }
    switch declaration.kind {
    case .ollama: return (client, closing)
    case .openai:
        let provider = declaration.name
        let target = OpenAIEngineTarget(engine: client) { model, fields in
            logger.notice(
                "the engine cannot honour these fields; the call goes on without them",
                metadata: ["provider": "\(provider)", "model": "\(model)", "fields": "\(fields.prefix(20).joined(separator: ","))"]
            )
            for field in fields { metrics.unhonouredField(field) }
        }
        return (target, closing)
    }
}

/// Runs `close` when the service group stops: shuts a client down, or closes its connections.
struct ClosingService: Service {
    let close: @Sendable () async throws -> Void

    func run() async throws {
        try? await gracefulShutdown()
        try await close()
    }
}

/// Closes the database once everything that writes to it has stopped, then lets another foreman take it.
struct DatabaseCloser: Service {
    let pool: DatabasePool
    let lock: DatabaseLock
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        do {
            try pool.close()
            logger.info("database closed")
        } catch {
            logger.error("could not close the database", metadata: ["error": "\(error)"])
        }
        withExtendedLifetime(lock) {}
    }
}

/// The socket file `FOREMAN_SOCKET` names.
enum UnixSocketFile {
    /// Removes a socket left by a previous run (binding would fail on it); refuses to remove anything else.
    static func prepare(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw ConfigError(variable: ForemanConfig.Variable.socket.rawValue, message: "\(path) exists and is not a socket")
        }
        unlink(path)
    }
}

extension ProviderDeclaration {
    /// The URL without a trailing slash.
    var address: String {
        var address = url
        while address.hasSuffix("/") { address.removeLast() }
        return address
    }

    /// Whether the box is reached over plain HTTP (through ``HTTP1Target``).
    var isPlainHTTP: Bool { URL(string: address)?.scheme?.lowercased() == "http" }
}
