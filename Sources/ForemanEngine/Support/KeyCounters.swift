import CoreMetrics
import ForemanDomain

/// The series of one key's usage on `/metrics` (ADR 0022), labelled with its name: made once per key, not per call.
struct KeyCounters: Sendable {
    let requests: Counter
    let promptTokens: Counter
    let generatedTokens: Counter
    let seconds: FloatingPointCounter

    init(name: String, factory: any MetricsFactory) {
        let key = [("key", name)]
        requests = Counter(label: "foreman_key_requests_total", dimensions: key, factory: factory)
        promptTokens = Counter(label: "foreman_key_tokens_total", dimensions: key + [("direction", "prompt")], factory: factory)
        generatedTokens = Counter(label: "foreman_key_tokens_total", dimensions: key + [("direction", "generated")], factory: factory)
        seconds = FloatingPointCounter(label: "foreman_key_generation_seconds_total", dimensions: key, factory: factory)
    }

    func add(_ usage: JobUsage) {
        requests.increment()
        promptTokens.increment(by: Int64(usage.promptTokens))
        generatedTokens.increment(by: Int64(usage.generatedTokens))
        seconds.increment(by: usage.seconds)
    }

    /// Takes the key's series off `/metrics`: it was revoked or renamed.
    func destroy() {
        requests.destroy()
        promptTokens.destroy()
        generatedTokens.destroy()
        seconds.destroy()
    }
}
