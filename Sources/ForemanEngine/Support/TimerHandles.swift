import CoreMetrics
import Synchronization

/// The timer handles of a model's series, made once per series: making a handle looks its series up in the registry
/// under a lock, and a native call records two or three timers (ADR 0012).
///
/// A series is known by its label, model and provider. The models are the boxes', so the series are few; past `limit`
/// of them a handle is made for each use, so that no caller can grow this cache without bound.
final class TimerHandles: Sendable {
    private struct Series: Hashable {
        let label: String
        let model: String
        let provider: String
    }

    private let factory: any MetricsFactory
    private let limit: Int
    private let handles = Mutex<[Series: Timer]>([:])

    init(factory: any MetricsFactory, limit: Int = 1024) {
        self.factory = factory
        self.limit = limit
    }

    /// The timer of series `label` for `model` on `provider`.
    func timer(_ label: String, model: String, provider: String) -> Timer {
        let series = Series(label: label, model: model, provider: provider)
        if let timer = handles.withLock({ $0[series] }) { return timer }
        let timer = Timer(label: label, dimensions: [("model", model), ("provider", provider)], factory: factory)
        handles.withLock { handles in
            if handles.count < limit { handles[series] = timer }
        }
        return timer
    }
}
