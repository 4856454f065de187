import ArgumentParser
import ForemanEngine
import ForemanDomain
import ForemanApp
import ForemanHTTP
import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct Foreman: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "foreman",
        abstract: "A private, authenticated, queue-fronted Ollama.",
        discussion: """
            foreman sits in front of one Ollama server and looks like Ollama to every client, behind a bearer \
            token. Every generation waits in a SQLite-persisted queue drained by a single worker. Each option \
            also reads an environment variable, named in its help; a flag overrides its variable.
            """,
        version: ForemanVersion.current,
        subcommands: [
            Serve.self, RunCommand.self, PullCommand.self, ListCommand.self, PsCommand.self, ShowCommand.self, RemoveCommand.self, CopyCommand.self,
            StatusCommand.self, JobsCommand.self, KeysCommand.self, UsageCommand.self,
        ],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the foreman service (the default command).")

    @Option(help: "Listen address host:port (FOREMAN_ADDR, default 127.0.0.1:8080).")
    var addr: String?

    @Option(name: .customLong("ollama-url"), help: "The Ollama target (FOREMAN_OLLAMA_URL, default http://127.0.0.1:11434).")
    var ollamaURL: String?

    @Option(help: "A TOML file of providers, one [providers.NAME] table per box; replaces --ollama-url (FOREMAN_PROVIDERS).")
    var providers: String?

    @Option(help: "Bearer token callers must send; required off loopback (FOREMAN_TOKEN).")
    var token: String?

    @Option(name: .customLong("ollama-token"), help: "Bearer token sent to the target (FOREMAN_OLLAMA_TOKEN).")
    var ollamaToken: String?

    @Option(help: "SQLite file (FOREMAN_DB, default $XDG_STATE_HOME/foreman/foreman.db or ~/.local/state/foreman/foreman.db).")
    var db: String?

    @Option(name: .customLong("poll-interval"), help: "How often to read /api/tags, e.g. 500ms, 30s, 2m (FOREMAN_POLL_INTERVAL, default 30s).")
    var pollInterval: String?

    @Option(name: .customLong("max-queue"), help: "Queued jobs before new ones get 503 (FOREMAN_MAX_QUEUE, default 512).")
    var maxQueue: String?

    @Option(name: .customLong("max-body"), help: "Largest request body, e.g. 32MB (FOREMAN_MAX_BODY, default 32MB).")
    var maxBody: String?
    @Option(name: .customLong("max-file-bytes"), help: "Largest file /v1/files takes, e.g. 200MB (FOREMAN_MAX_FILE_BYTES, default 200MB).")
    var maxFileBytes: String?

    @Option(name: .customLong("max-wait"), help: "How long a native call waits for its job to start (FOREMAN_MAX_WAIT, default 10m).")
    var maxWait: String?

    @Option(name: .customLong("upstream-timeout"), help: "How long the target may take to start answering (FOREMAN_UPSTREAM_TIMEOUT, default 5m).")
    var upstreamTimeout: String?

    @Option(name: .customLong("header-timeout"), help: "How long a request head may take to arrive (FOREMAN_HEADER_TIMEOUT, default 10s).")
    var headerTimeout: String?

    @Option(name: .customLong("max-connections"), help: "Client connections open at once (FOREMAN_MAX_CONNECTIONS, default: the open-file limit less a reserve).")
    var maxConnections: String?

    @Option(name: .customLong("listen-backlog"), help: "Connections the kernel holds for foreman to accept, for bursts (FOREMAN_LISTEN_BACKLOG, default 4096).")
    var listenBacklog: String?

    @Option(name: .customLong("idle-timeout"), help: "How long a keep-alive connection may wait for its next request (FOREMAN_IDLE_TIMEOUT, default 120s).")
    var idleTimeout: String?

    @Option(help: "How long finished jobs and artifacts are kept (FOREMAN_RETENTION, default 7d).")
    var retention: String?

    @Option(name: .customLong("webhook-secret"), help: "whsec_ + base64 secret that signs webhooks (FOREMAN_WEBHOOK_SECRET).")
    var webhookSecret: String?

    @Option(name: .customLong("webhook-retry-for"), help: "How long a failing webhook is retried (FOREMAN_WEBHOOK_RETRY_FOR, default 24h).")
    var webhookRetryFor: String?

    @Option(name: .customLong("webhook-retry-base"), help: "First webhook retry delay, doubling (FOREMAN_WEBHOOK_RETRY_BASE, default 5s).")
    var webhookRetryBase: String?

    @Option(name: .customLong("webhook-timeout"), help: "Time limit of one webhook attempt (FOREMAN_WEBHOOK_TIMEOUT, default 15s).")
    var webhookTimeout: String?

    @Option(name: .customLong("webhook-allow-link-local"), help: "1: webhooks may go to link-local and cloud-metadata addresses (FOREMAN_WEBHOOK_ALLOW_LINK_LOCAL, default 0).")
    var webhookAllowLinkLocal: String?

    @Option(name: .customLong("metrics-public"), help: "1: /metrics without the token (FOREMAN_METRICS_PUBLIC, default 0).")
    var metricsPublic: String?

    @Option(name: .customLong("log-bodies"), help: "1: request bodies (prompts) in the logs (FOREMAN_LOG_BODIES, default 0).")
    var logBodies: String?

    @Option(name: .customLong("max-attempts"), help: "Claims of a /jobs job before a restart mid-run fails it (FOREMAN_MAX_ATTEMPTS, default 3).")
    var maxAttempts: String?

    @Option(name: .customLong("max-skip"), help: "How often a job may be passed over for model affinity (FOREMAN_MAX_SKIP, default 8).")
    var maxSkip: String?

    @Option(name: .customLong("max-affinity-wait"), help: "How long past its turn affinity may delay a job (FOREMAN_MAX_AFFINITY_WAIT, default 60s).")
    var maxAffinityWait: String?

    @Option(name: .customLong("embed-models"), help: "Comma-separated models to treat as embedding models (FOREMAN_EMBED_MODELS).")
    var embedModels: String?

    @Option(name: .customLong("embed-concurrency"), help: "Embeddings calls at the target at once (FOREMAN_EMBED_CONCURRENCY, default 4).")
    var embedConcurrency: String?

    @Option(name: .customLong("embed-num-ctx"), help: "num_ctx sent with embeddings calls that set none (FOREMAN_EMBED_NUM_CTX).")
    var embedNumCtx: String?

    @Option(name: .customLong("shutdown-grace"), help: "How long a running job may finish after SIGTERM (FOREMAN_SHUTDOWN_GRACE, default 30s).")
    var shutdownGrace: String?

    @Option(name: .customLong("socket"), help: "Also serve on this unix domain socket, mode 0600 (FOREMAN_SOCKET).")
    var socket: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (FOREMAN_LOG_LEVEL, default info).")
    var logLevel: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var overrides: [ForemanConfig.Variable: String] = [:]
        overrides[.addr] = addr
        overrides[.ollamaURL] = ollamaURL
        overrides[.token] = token
        overrides[.providers] = providers
        overrides[.ollamaToken] = ollamaToken
        overrides[.db] = db
        overrides[.pollInterval] = pollInterval
        overrides[.maxQueue] = maxQueue
        overrides[.maxBody] = maxBody
        overrides[.maxFileBytes] = maxFileBytes
        overrides[.maxWait] = maxWait
        overrides[.upstreamTimeout] = upstreamTimeout
        overrides[.retention] = retention
        overrides[.headerTimeout] = headerTimeout
        overrides[.maxConnections] = maxConnections
        overrides[.listenBacklog] = listenBacklog
        overrides[.idleTimeout] = idleTimeout
        overrides[.webhookSecret] = webhookSecret
        overrides[.webhookRetryFor] = webhookRetryFor
        overrides[.webhookRetryBase] = webhookRetryBase
        overrides[.webhookTimeout] = webhookTimeout
        overrides[.webhookAllowLinkLocal] = webhookAllowLinkLocal
        overrides[.metricsPublic] = metricsPublic
        overrides[.logBodies] = logBodies
        overrides[.maxAttempts] = maxAttempts
        overrides[.maxSkip] = maxSkip
        overrides[.maxAffinityWait] = maxAffinityWait
        overrides[.embedModels] = embedModels
        overrides[.embedConcurrency] = embedConcurrency
        overrides[.embedNumCtx] = embedNumCtx
        overrides[.shutdownGrace] = shutdownGrace
        overrides[.socket] = socket

        let config: ForemanConfig
        do {
            config = try ForemanConfig.resolve(environment: environment, overrides: overrides)
            try config.validate()
        } catch {
            throw ValidationError(error.description)
        }
        let levelName = logLevel ?? environment["FOREMAN_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: levelName.lowercased()) else {
            throw ValidationError("FOREMAN_LOG_LEVEL: expected trace, debug, info, notice, warning, error or critical, got '\(levelName)'")
        }
        LoggingSystem.bootstrap { LogfmtLogHandler(label: $0) }
        // Lines still waiting for the log's writer thread go out before the process ends.
        defer { LogLineWriter.standardError.flush() }
        var logger = Logger(label: "foreman")
        logger.logLevel = level
        logger.info(
            "starting foreman",
            metadata: ["addr": "\(config.address)", "target": "\(URLRedaction.redactingUserinfo(in: config.ollamaURL))", "db": "\(config.databasePath)", "auth": "\(config.token != nil)"]
        )
        // The database holds prompts and the socket grants the API: neither is for other users of this machine.
        umask(0o077)
        // Every connection is a descriptor; the connection budget is derived from what this gives.
        DescriptorLimit.raiseToHardLimit()
        do {
            let foreman = try await buildApplication(config: config, logger: logger)
            let group = ServiceGroup(services: [foreman], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            try await group.run()
        } catch {
            // One line naming the cause, on standard error whatever the log level, and a documented exit code.
            let failure = StartupFailure(error, config: config)
            logger.critical("foreman stopped", metadata: ["error": "\(failure.message)", "exit_code": "\(failure.exitCode)"])
            CommandOutput.fail(failure.message, exitCode: failure.exitCode)
        }
    }
}
