import ForemanEngine
import ForemanDomain
import ForemanTarget
import Foundation

/// Everything foreman needs to know to run, resolved from the environment and command-line flags.
///
/// Every field has a documented environment variable (see ``ForemanConfig/Variable``); flags given to
/// `foreman serve` override the environment. Resolution fails with a ``ConfigError`` that names the variable.
public struct ForemanConfig: Sendable, Equatable {
    /// Where foreman listens.
    public var address: HostPort = HostPort(host: "127.0.0.1", port: 8080)
    /// The Ollama server foreman fronts, without a trailing slash.
    public var ollamaURL: String = "http://127.0.0.1:11434"
    /// `FOREMAN_PROVIDERS`: the fleet the providers file declares (ADR 0017), sorted by name; `nil` without a file,
    /// when ``ollamaURL`` is the one provider.
    public var providers: [ProviderDeclaration]?
    /// The bearer token callers must present; `nil` disables inbound auth (loopback only).
    public var token: String?
    /// The bearer token foreman sends to the target, if the target wants one.
    public var ollamaToken: String?
    /// The SQLite file holding the queue.
    public var databasePath: String = ForemanConfig.defaultDatabasePath()
    /// How often the inventory poller reads `/api/tags`.
    public var pollInterval: Duration = .seconds(30)
    /// How many jobs may wait in the queue before new ones get 503.
    public var maxQueue: Int = 512
    /// The largest request body accepted, in bytes.
    public var maxBodyBytes: Int = 32 * 1024 * 1024
    /// `FOREMAN_MAX_FILE_BYTES`: the largest file `/v1/files` takes (OpenAI's limit for a batch's input file).
    public var maxFileBytes: Int = 200 * 1024 * 1024
    /// How long a synchronous caller waits for its job to start before getting 503/504.
    public var maxWait: Duration = .seconds(600)
    /// How long the target may take to answer a request's head (model loads included).
    public var upstreamTimeout: Duration = .seconds(300)
    /// Longest pause between two reads of a streaming upstream body.
    public var upstreamReadTimeout: Duration = .seconds(300)
    /// `FOREMAN_HEADER_TIMEOUT`: how long a request head may take to arrive, from a connection's start or the
    /// first byte of a later request.
    public var headerTimeout: Duration = .seconds(10)
    /// `FOREMAN_IDLE_TIMEOUT`: how long a keep-alive connection may wait for its next request. Longer than the 90 s
    /// Go's and Python's HTTP clients keep idle connections, so the client, not foreman, closes them first.
    public var idleTimeout: Duration = .seconds(120)
    /// `FOREMAN_MAX_CONNECTIONS`: client connections open at once; `nil`: the open-file limit less a reserve.
    public var maxConnections: Int?
    /// `FOREMAN_LISTEN_BACKLOG`: connections the kernel completes and holds for foreman to accept (ADR 0024). Sized
    /// for a burst of a thousand clients at once; the kernel caps it at `net.core.somaxconn`.
    public var listenBacklog = 4096
    /// How long finished jobs and their artifacts are kept.
    public var retention: Duration = .seconds(7 * 86_400)
    /// The Standard Webhooks secret (`whsec_` + base64); webhooks are unsigned without it.
    public var webhookSecret: String?
    /// How often a `/jobs` job may be claimed before a restart in the middle of it fails it.
    public var maxAttempts: Int = 3
    /// Webhook retry schedule and time limits.
    public var webhookRetry = WebhookOutbox.RetryPolicy()
    /// `FOREMAN_WEBHOOK_ALLOW_LINK_LOCAL=1`: webhooks may go to link-local and cloud-metadata addresses.
    public var webhookAddresses = WebhookAddressPolicy()
    /// The bound on model affinity when choosing the next job (ADR 0007).
    public var scheduling = Scheduler.Policy()
    /// How long connecting to the target may take. AsyncHTTPClient retries a refused connection until this
    /// passes, so it is also how long an outage takes to be noticed.
    public var targetConnectTimeout: Duration = .seconds(5)
    /// `FOREMAN_EMBED_MODELS`: models taken as embedding models whatever `/api/show` says (ADR 0008).
    public var embedModels: Set<String> = []
    /// `FOREMAN_EMBED_CONCURRENCY`: how many embeddings calls may be at the target at once.
    public var embedConcurrency: Int = 4
    /// `FOREMAN_EMBED_NUM_CTX`: the `num_ctx` sent with embeddings calls that set none, before any caller has.
    public var embedNumCtx: Int?
    /// `FOREMAN_SHUTDOWN_GRACE`: how long a running job may take to finish once a shutdown begins.
    public var shutdownGrace: Duration = .seconds(30)
    /// `FOREMAN_METRICS_PUBLIC=1`: `/metrics` without the bearer token.
    public var metricsPublic = false
    /// `FOREMAN_LOG_BODIES=1`: request bodies (prompts) in the logs. Off by default: prompts are private.
    public var logBodies = false
    /// `FOREMAN_SOCKET`: also serve the API on this unix domain socket (mode 0600).
    public var socketPath: String?
    /// Backoff while the target is unreachable (not an environment variable: the defaults suit every box).
    public var targetRetry = Worker.RetryPolicy()
    /// The shortest time between two re-polls of the inventory for unknown models (not an environment variable).
    public var inventoryRefreshMinimum: Duration = .seconds(1)

    public init() {}

    /// `$XDG_STATE_HOME/foreman/foreman.db`, else `~/.local/state/foreman/foreman.db`.
    public static func defaultDatabasePath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let state = environment["XDG_STATE_HOME"], !state.isEmpty {
            return state + "/foreman/foreman.db"
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/state/foreman/foreman.db"
    }

    /// Whether foreman may listen on ``address`` with the current ``token``.
    ///
    /// An unauthenticated foreman on a non-loopback address would hand the GPU box to anyone on the
    /// network, which is the very thing foreman exists to prevent.
    public func validate() throws(ConfigError) {
        if token == nil, !address.isLoopback {
            throw ConfigError(
                variable: Variable.addr.rawValue,
                message: "refusing to listen on non-loopback address \(address) without FOREMAN_TOKEN; set FOREMAN_TOKEN or bind to 127.0.0.1"
            )
        }
    }
}

extension ForemanConfig {
    /// The environment variables foreman reads.
    public enum Variable: String, CaseIterable, Sendable {
        case addr = "FOREMAN_ADDR"
        case ollamaURL = "FOREMAN_OLLAMA_URL"
        case token = "FOREMAN_TOKEN"
        case ollamaToken = "FOREMAN_OLLAMA_TOKEN"
        case db = "FOREMAN_DB"
        case pollInterval = "FOREMAN_POLL_INTERVAL"
        case maxQueue = "FOREMAN_MAX_QUEUE"
        case maxBody = "FOREMAN_MAX_BODY"
        case maxFileBytes = "FOREMAN_MAX_FILE_BYTES"
        case maxWait = "FOREMAN_MAX_WAIT"
        case upstreamTimeout = "FOREMAN_UPSTREAM_TIMEOUT"
        case retention = "FOREMAN_RETENTION"
        case headerTimeout = "FOREMAN_HEADER_TIMEOUT"
        case maxConnections = "FOREMAN_MAX_CONNECTIONS"
        case listenBacklog = "FOREMAN_LISTEN_BACKLOG"
        case idleTimeout = "FOREMAN_IDLE_TIMEOUT"
        case webhookSecret = "FOREMAN_WEBHOOK_SECRET"
        case maxAttempts = "FOREMAN_MAX_ATTEMPTS"
        case webhookRetryFor = "FOREMAN_WEBHOOK_RETRY_FOR"
        case webhookRetryBase = "FOREMAN_WEBHOOK_RETRY_BASE"
        case webhookTimeout = "FOREMAN_WEBHOOK_TIMEOUT"
        case webhookAllowLinkLocal = "FOREMAN_WEBHOOK_ALLOW_LINK_LOCAL"
        case maxSkip = "FOREMAN_MAX_SKIP"
        case maxAffinityWait = "FOREMAN_MAX_AFFINITY_WAIT"
        case embedModels = "FOREMAN_EMBED_MODELS"
        case embedConcurrency = "FOREMAN_EMBED_CONCURRENCY"
        case embedNumCtx = "FOREMAN_EMBED_NUM_CTX"
        case shutdownGrace = "FOREMAN_SHUTDOWN_GRACE"
        case metricsPublic = "FOREMAN_METRICS_PUBLIC"
        case logBodies = "FOREMAN_LOG_BODIES"
        case socket = "FOREMAN_SOCKET"
        case providers = "FOREMAN_PROVIDERS"
    }

    /// Resolves a configuration from environment variables, then applies `overrides` (flag values keyed
    /// by the variable they stand for), so a flag always wins over the environment.
    public static func resolve(
        environment: [String: String],
        overrides: [Variable: String] = [:]
    ) throws(ConfigError) -> ForemanConfig {
        var config = ForemanConfig()
        config.databasePath = defaultDatabasePath(environment: environment)
        for variable in Variable.allCases {
            let raw = overrides[variable] ?? environment[variable.rawValue]
            guard let raw, !raw.isEmpty else { continue }
            try config.apply(variable, raw)
        }
        return config
    }

    private mutating func apply(_ variable: Variable, _ raw: String) throws(ConfigError) {
        let name = variable.rawValue
        switch variable {
        case .addr: address = try HostPort.parse(raw, variable: name)
        case .ollamaURL: ollamaURL = try Self.parseURL(raw, variable: name)
        case .token: token = raw
        case .ollamaToken:
            guard HTTP1Target.isFieldValue(raw) else {
                throw ConfigError(variable: name, message: "the token has control characters (a line break?) and cannot be sent in a header")
            }
            ollamaToken = raw
        case .db: databasePath = raw
        case .pollInterval: pollInterval = try DurationParser.parse(raw, variable: name)
        case .maxQueue: maxQueue = try Self.parsePositiveInt(raw, variable: name)
        case .maxBody: maxBodyBytes = try ByteSizeParser.parse(raw, variable: name)
        case .maxFileBytes: maxFileBytes = try ByteSizeParser.parse(raw, variable: name)
        case .maxWait: maxWait = try DurationParser.parse(raw, variable: name)
        case .upstreamTimeout:
            upstreamTimeout = try DurationParser.parse(raw, variable: name)
            upstreamReadTimeout = upstreamTimeout
        case .retention: retention = try DurationParser.parse(raw, variable: name)
        case .headerTimeout: headerTimeout = try DurationParser.parse(raw, variable: name)
        case .maxConnections: maxConnections = try Self.parsePositiveInt(raw, variable: name)
        case .listenBacklog: listenBacklog = try Self.parsePositiveInt(raw, variable: name)
        case .idleTimeout: idleTimeout = try DurationParser.parse(raw, variable: name)
        case .webhookSecret:
            do {
                _ = try WebhookSigner(secret: raw)
            } catch {
                throw ConfigError(variable: name, message: error.description)
            }
            webhookSecret = raw
        case .maxAttempts: maxAttempts = try Self.parsePositiveInt(raw, variable: name)
        case .webhookRetryFor: webhookRetry.giveUpAfter = try DurationParser.parse(raw, variable: name)
        case .webhookRetryBase: webhookRetry.base = try DurationParser.parse(raw, variable: name)
        case .webhookTimeout: webhookRetry.timeout = try DurationParser.parse(raw, variable: name)
        case .webhookAllowLinkLocal: webhookAddresses.allowLinkLocal = try Self.parseFlag(raw, variable: name)
        case .maxSkip:
            guard let value = Int(raw.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                throw ConfigError(variable: name, message: "expected a whole number of 0 or more, got '\(raw)'")
            }
            scheduling.maxSkip = value
        case .maxAffinityWait: scheduling.maxAffinityWait = try DurationParser.parse(raw, variable: name)
        case .embedModels:
            embedModels = Set(raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        case .embedConcurrency: embedConcurrency = try Self.parsePositiveInt(raw, variable: name)
        case .embedNumCtx: embedNumCtx = try Self.parsePositiveInt(raw, variable: name)
        case .shutdownGrace: shutdownGrace = try DurationParser.parse(raw, variable: name)
        case .metricsPublic: metricsPublic = try Self.parseFlag(raw, variable: name)
        case .logBodies: logBodies = try Self.parseFlag(raw, variable: name)
        case .socket: socketPath = raw
        case .providers: providers = try ProvidersFile.read(path: raw)
        }
    }

    static func parsePositiveInt(_ raw: String, variable: String) throws(ConfigError) -> Int {
        guard let value = Int(raw.trimmingCharacters(in: .whitespaces)), value > 0 else {
            throw ConfigError(variable: variable, message: "expected a positive whole number, got '\(raw)'")
        }
        return value
    }

    static func parseFlag(_ raw: String, variable: String) throws(ConfigError) -> Bool {
        switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigError(variable: variable, message: "expected 1 or 0, got '\(raw)'")
        }
    }

    static func parseURL(_ raw: String, variable: String) throws(ConfigError) -> String {
        var trimmed = raw.trimmingCharacters(in: .whitespaces)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", url.host != nil
        else {
            throw ConfigError(variable: variable, message: "expected an http:// or https:// URL, got '\(raw)'")
        }
        return trimmed
    }
}

/// A configuration value that could not be used; the message names the variable.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public var variable: String
    public var message: String

    public init(variable: String, message: String) {
        self.variable = variable
        self.message = message
    }

    public var description: String { "\(variable): \(message)" }
}
