import CoreMetrics
import ForemanDomain
import Foundation

/// The metrics foreman keeps, made by one swift-metrics factory (Prometheus in the server, ADR 0009).
///
/// A value passed to every component instead of a global `MetricsSystem`, so several foremen in one process
/// (the tests, the benchmark) each count their own.
public struct ForemanMetrics: Sendable {
    private let factory: any MetricsFactory
    /// Handles of the series every native call moves, made once: making a handle looks it up in the registry under
    /// a lock, three to five times per call (ADR 0012). Their series are exported, at zero, from the start.
    private let jobsByStateAndOrigin: [JobState: [JobOrigin: Counter]]
    private let queueDepthGauge: Gauge
    private let timers: TimerHandles
    /// The provider named in the series that concern one box (ADR 0017); see ``forProvider(_:)``.
    private let providerName: String
    /// Those series' `provider` label.
    private var provider: [(String, String)] { [("provider", providerName)] }

    public init(factory: any MetricsFactory) {
        self.factory = factory
        providerName = "default"
        jobsByStateAndOrigin = Dictionary(uniqueKeysWithValues: JobState.allCases.map { state in
            (state, Dictionary(uniqueKeysWithValues: JobOrigin.allCases.map { origin in
                (origin, Counter(label: "foreman_jobs_total", dimensions: [("state", state.rawValue), ("origin", origin.rawValue)], factory: factory))
            }))
        })
        queueDepthGauge = Gauge(label: "foreman_queue_depth", factory: factory)
        timers = TimerHandles(factory: factory)
    }

    /// The same metrics, with the series that concern one box labelled with its provider's name.
    public func forProvider(_ name: String) -> ForemanMetrics {
        ForemanMetrics(copying: self, provider: name)
    }

    private init(copying other: ForemanMetrics, provider name: String) {
        factory = other.factory
        jobsByStateAndOrigin = other.jobsByStateAndOrigin
        queueDepthGauge = other.queueDepthGauge
        timers = other.timers
        providerName = name
    }

    /// Counts nothing: for components built without a server (unit tests).
    public static let disabled = ForemanMetrics(factory: NOOPMetricsHandler.instance)

    /// A job entered `state`.
    func jobEntered(_ state: JobState, _ job: Job) {
        jobsByStateAndOrigin[state]?[job.origin]?.increment()
    }

    func queueDepth(_ depth: Int) {
        queueDepthGauge.record(depth)
    }

    /// How long a job waited between submission and its start.
    func queueWait(_ seconds: TimeInterval, _ job: Job) {
        timer("foreman_queue_wait_seconds", seconds, job)
    }

    /// How long a job ran at the target.
    func runTime(_ seconds: TimeInterval, _ job: Job) {
        timer("foreman_run_seconds", seconds, job)
    }

    /// From sending a generation to its first NDJSON line (model loads included).
    func timeToFirstToken(_ duration: Duration, model: String) {
        timers.timer("foreman_time_to_first_token_seconds", model: model, provider: providerName)
            .recordNanoseconds(Int64(duration.seconds * 1e9))
    }

    /// A residency slot changed model (`slot` is `chat` or `embed`): the target loads a model.
    func modelSwap(slot: String) {
        Counter(label: "foreman_model_swaps_total", dimensions: [("slot", slot)] + provider, factory: factory).increment()
    }

    func modelUnload() {
        Counter(label: "foreman_model_unloads_total", dimensions: provider, factory: factory).increment()
    }

    /// Something went wrong talking to the target: `unreachable`, `interrupted`, `upstream_error`.
    public func targetError(_ kind: String) {
        Counter(label: "foreman_target_errors_total", dimensions: [("kind", kind)] + provider, factory: factory).increment()
    }

    /// A caller's field an `openai` provider's engine cannot honour was left out of a call (ADR 0018). Fields outside
    /// Ollama's own names count as `other`, so callers cannot make up series.
    public func unhonouredField(_ field: String) {
        let label = Self.knownUnhonouredFields.contains(field) ? field : "other"
        Counter(label: "foreman_unhonoured_fields_total", dimensions: [("field", label)] + provider, factory: factory).increment()
    }

    /// The fields of Ollama's API an engine may be unable to honour, as the translation names them.
    static let knownUnhonouredFields: Set<String> = Set(
        ["keep_alive", "think", "format", "suffix", "template", "context", "truncate", "options"]
            + [
                "num_ctx", "num_gpu", "num_thread", "num_batch", "num_keep", "main_gpu", "low_vram", "use_mmap", "use_mlock",
                "numa", "mirostat", "mirostat_eta", "mirostat_tau", "repeat_last_n", "tfs_z", "penalize_newline",
            ].map { "options." + $0 }
    )

    func degraded(_ isDegraded: Bool) {
        Gauge(label: "foreman_degraded", dimensions: provider, factory: factory).record(isDegraded ? 1 : 0)
    }

    /// The webhook outbox read its table: on a commit with new events, an attempt's end, or its clock while events
    /// are pending. Flat while nothing is pending.
    func webhookOutboxRead() {
        Counter(label: "foreman_webhook_outbox_reads_total", dimensions: [], factory: factory).increment()
    }

    /// One webhook delivery attempt ended: `delivered`, `retrying` or `given_up`.
    func webhookDelivery(_ outcome: String) {
        Counter(label: "foreman_webhook_deliveries_total", dimensions: [("outcome", outcome)], factory: factory).increment()
    }

    /// `foreman_open_connections`: client connections open now, and `foreman_connection_limit` beside it.
    public func openConnections(_ count: Int, limit: Int) {
        Gauge(label: "foreman_open_connections", factory: factory).record(count)
        Gauge(label: "foreman_connection_limit", factory: factory).record(limit)
    }

    func embeddingsInFlight(_ count: Int) {
        Gauge(label: "foreman_embeddings_in_flight", dimensions: provider, factory: factory).record(count)
    }

    /// One embeddings call finished at the target (`status` is its HTTP status, `error` when none arrived).
    func embedding(status: Int?) {
        Counter(label: "foreman_embeddings_total", dimensions: [("status", status.map(String.init) ?? "error")] + provider, factory: factory)
            .increment()
    }

    /// The usage series of key `name` (ADR 0022).
    func keyCounters(name: String) -> KeyCounters {
        KeyCounters(name: name, factory: factory)
    }

    /// A key's request was refused for one of its limits: `rate`, `tokens` or `concurrency` (ADR 0022).
    public func keyRefusal(name: String, limit: String) {
        Counter(label: "foreman_key_refusals_total", dimensions: [("key", name), ("limit", limit)], factory: factory).increment()
    }

    /// Labelled with the job's model and the provider it ran on: these are recorded for every provider's jobs alike.
    private func timer(_ label: String, _ seconds: TimeInterval, _ job: Job) {
        timers.timer(label, model: job.model, provider: job.ranOn ?? providerName).recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }
}
