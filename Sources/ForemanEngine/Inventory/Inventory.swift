import ForemanDomain
import Foundation
import NIOCore
import Synchronization

/// What foreman knows about the target: its installed models (last known `/api/tags`) and whether it is healthy.
///
/// `/api/tags` is answered from here, so clients can list models while the target is down; the
/// ``Snapshot/degraded`` flag tells monitors that what they see may be stale.
public actor Inventory {
    /// A consistent view of the inventory at one moment.
    public struct Snapshot: Sendable {
        /// The last successful `/api/tags` body, byte for byte; `nil` until the first success.
        public var tagsBody: ByteBuffer?
        /// Normalized names (see ``ModelName``) of every model in ``tagsBody``.
        public var models: Set<String> = []
        /// Each model's digest as `/api/tags` last listed it, by normalized name.
        public var digests: [String: String] = [:]
        /// What `/api/show` said each model can do (`completion`, `embedding`, ...), by normalized name.
        /// A model is missing until its `/api/show` succeeded.
        public var capabilities: [String: ModelCapabilities] = [:]
        public var lastPollAt: Date?
        public var lastSuccessAt: Date?
        public var lastError: String?
        /// Whether the last contact with the target (a poll or a job) failed.
        public var degraded = false

        /// Whether the target answered the last time foreman tried.
        public var reachable: Bool { !degraded && lastSuccessAt != nil }
    }

    private(set) public var snapshot = Snapshot() {
        didSet {
            guard snapshot.degraded != oldValue.degraded else { return }
            degraded.store(snapshot.degraded, ordering: .relaxed)
            metrics.degraded(snapshot.degraded)
        }
    }
    /// ``Snapshot/degraded``, for a run that must not visit this actor to learn that nothing changed.
    private let degraded = Atomic<Bool>(false)

    /// Whether the last contact with the target failed, read without visiting this actor.
    public nonisolated var isDegraded: Bool { degraded.load(ordering: .relaxed) }
    /// ``Snapshot/models``, for a call that must not visit this actor to learn that its model is listed (ADR 0038).
    private let listed = Mutex<Set<String>>([])
    private let metrics: ForemanMetrics

    public init(metrics: ForemanMetrics = .disabled) {
        self.metrics = metrics
        metrics.degraded(false)
    }

    /// Records a successful poll: `models` maps each normalized name to its digest.
    public func update(tagsBody: ByteBuffer, models: [String: String], at now: Date = Date()) {
        snapshot.tagsBody = tagsBody
        snapshot.models = Set(models.keys)
        listed.withLock { [names = snapshot.models] in $0 = names }
        snapshot.digests = models
        snapshot.capabilities = snapshot.capabilities.filter { models[$0.key] == $0.value.digest }
        snapshot.lastPollAt = now
        snapshot.lastSuccessAt = now
        snapshot.lastError = nil
        snapshot.degraded = false
    }

    /// Records that the target could not be used; keeps the last inventory.
    public func markUnreachable(_ error: String, at now: Date = Date(), fromPoll: Bool = false) {
        if fromPoll { snapshot.lastPollAt = now }
        snapshot.lastError = error
        snapshot.degraded = true
    }

    /// Records that a job reached the target, which proves it is back.
    public func markReachable() {
        guard snapshot.degraded else { return }
        snapshot.degraded = false
    }

    /// Records what `/api/show` said `model` can do, for the digest it was asked about.
    public func setCapabilities(_ capabilities: ModelCapabilities, for model: String) {
        let name = ModelName.normalized(model)
        guard snapshot.digests[name] == capabilities.digest else { return }
        snapshot.capabilities[name] = capabilities
    }

    /// The models whose capabilities are not known for their current digest.
    public var modelsWithoutCapabilities: [String] {
        snapshot.digests.keys.filter { snapshot.capabilities[$0] == nil }.sorted()
    }

    /// Whether the inventory lists `model` (any spelling of its tag), read without visiting this actor (ADR 0038).
    public nonisolated func contains(_ model: String) -> Bool {
        let name = ModelName.normalized(model)
        return listed.withLock { $0.contains(name) }
    }

    /// Extracts the normalized model names, each with its digest, from an `/api/tags` body.
    public static func models(fromTags body: ByteBuffer) throws -> [String: String] {
        struct Tags: Decodable {
            struct Model: Decodable {
                var name: String?
                var model: String?
                var digest: String?
            }
            var models: [Model]?
        }
        let tags = try JSONDecoder().decode(Tags.self, from: Data(body.readableBytesView))
        var models: [String: String] = [:]
        for model in tags.models ?? [] {
            for name in [model.name, model.model].compactMap({ $0 }) where !name.isEmpty {
                models[ModelName.normalized(name)] = model.digest ?? ""
            }
        }
        return models
    }
}
