import Foundation
import NIOCore

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
        public var lastPollAt: Date?
        public var lastSuccessAt: Date?
        public var lastError: String?
        /// Whether the last contact with the target (a poll or a job) failed.
        public var degraded = false

        /// Whether the target answered the last time foreman tried.
        public var reachable: Bool { !degraded && lastSuccessAt != nil }
    }

    private(set) public var snapshot = Snapshot()

    public init() {}

    /// Records a successful poll.
    public func update(tagsBody: ByteBuffer, models: Set<String>, at now: Date = Date()) {
        snapshot.tagsBody = tagsBody
        snapshot.models = models
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

    /// Whether the inventory lists `model` (any spelling of its tag).
    public func contains(_ model: String) -> Bool {
        snapshot.models.contains(ModelName.normalized(model))
    }

    /// Extracts the normalized model names from an `/api/tags` body.
    public static func modelNames(fromTags body: ByteBuffer) throws -> Set<String> {
        struct Tags: Decodable {
            struct Model: Decodable {
                var name: String?
                var model: String?
            }
            var models: [Model]?
        }
        let tags = try JSONDecoder().decode(Tags.self, from: Data(body.readableBytesView))
        var names = Set<String>()
        for model in tags.models ?? [] {
            for name in [model.name, model.model].compactMap({ $0 }) where !name.isEmpty {
                names.insert(ModelName.normalized(name))
            }
        }
        return names
    }
}
