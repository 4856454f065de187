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

    public init(factory: any MetricsFactory) {
        self.factory = factory
        jobsByStateAndOrigin = Dictionary(uniqueKeysWithValues: JobState.allCases.map { state in
            (state, Dictionary(uniqueKeysWithValues: JobOrigin.allCases.map { origin in
                (origin, Counter(label: "foreman_jobs_total", dimensions: [("state", state.rawValue), ("origin", origin.rawValue)], factory: factory))
            }))
        })
        queueDepthGauge = Gauge(label: "foreman_queue_depth", factory: factory)
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
    func queueWait(_ seconds: TimeInterval, model: String) {
        timer("foreman_queue_wait_seconds", seconds, model: model)
    }

    /// How long a job ran at the target.
    func runTime(_ seconds: TimeInterval, model: String) {
        timer("foreman_run_seconds", seconds, model: model)
    }

    /// From sending a generation to its first NDJSON line (model loads included).
    func timeToFirstToken(_ duration: Duration, model: String) {
        Timer(label: "foreman_time_to_first_token_seconds", dimensions: [("model", model)], factory: factory)
            .recordNanoseconds(Int64(duration.seconds * 1e9))
    }

    /// A residency slot changed model (`slot` is `chat` or `embed`): the target loads a model.
    func modelSwap(slot: String) {
        Counter(label: "foreman_model_swaps_total", dimensions: [("slot", slot)], factory: factory).increment()
    }

    func modelUnload() {
        Counter(label: "foreman_model_unloads_total", factory: factory).increment()
    }

    /// Something went wrong talking to the target: `unreachable`, `interrupted`, `upstream_error`.
    public func targetError(_ kind: String) {
        Counter(label: "foreman_target_errors_total", dimensions: [("kind", kind)], factory: factory).increment()
    }

    func degraded(_ isDegraded: Bool) {
        Gauge(label: "foreman_degraded", factory: factory).record(isDegraded ? 1 : 0)
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
        Gauge(label: "foreman_embeddings_in_flight", factory: factory).record(count)
    }

    /// One embeddings call finished at the target (`status` is its HTTP status, `error` when none arrived).
    func embedding(status: Int?) {
        Counter(label: "foreman_embeddings_total", dimensions: [("status", status.map(String.init) ?? "error")], factory: factory)
            .increment()
    }

    private func timer(_ label: String, _ seconds: TimeInterval, model: String) {
        Timer(label: label, dimensions: [("model", model)], factory: factory).recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }
}
