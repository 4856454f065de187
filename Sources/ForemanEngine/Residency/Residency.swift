import ForemanDomain
import ForemanTarget
import Foundation
import Logging
import NIOCore
import Synchronization

/// Owns the two residency slots and makes the target match them (ADR 0008).
///
/// Every slot change happens before the model it names is loaded, and every unload is decided against the
/// slots as they stand at that moment, so the chat path and the embeddings path never unload each other's model.
public actor Residency {
    /// The two models foreman lets the target keep.
    public struct Slots: Sendable, Equatable {
        /// The model the worker runs (or last ran).
        public var chat: String?
        /// The model embeddings calls use.
        public var embed: String?

        public init(chat: String? = nil, embed: String? = nil) {
            self.chat = chat
            self.embed = embed
        }
    }

    private let target: any OllamaTarget
    private let inventory: Inventory
    private let declaredEmbedding: Set<String>
    private let settleLimit: Duration
    private let trustFor: Duration
    /// Whether foreman unloads models at the box. An OpenAI-compatible engine loads and swaps models by itself and
    /// has no unload call (ADR 0017): the slots then only record what ran last, for the scheduler's affinity.
    private let managesTarget: Bool
    /// When `/api/ps` last showed nothing but the two slots' models.
    private var verifiedAt: ContinuousClock.Instant? {
        get { chatSlot.withLock { $0.verifiedAt } }
        set { chatSlot.withLock { $0.verifiedAt = newValue } }
    }
    /// What a run reads of the chat slot without visiting this actor (``preparedGeneration(_:numCtx:)``). Only this
    /// actor writes it.
    private let chatSlot = Mutex(ChatSlotRecord())
    private let logger: Logger
    private let metrics: ForemanMetrics
    public private(set) var slots = Slots() {
        didSet {
            if slots.chat != oldValue.chat {
                chatSlot.withLock { $0.model = slots.chat }
                metrics.modelSwap(slot: "chat")
            }
            if slots.embed != oldValue.embed { metrics.modelSwap(slot: "embed") }
        }
    }
    /// How many unload requests foreman has sent (for `/healthz` and the benchmark).
    public private(set) var unloadsSent = 0

    /// - Parameters:
    ///   - declaredEmbedding: `FOREMAN_EMBED_MODELS`, models taken as embedding models whatever `/api/show` says.
    ///   - trustFor: how long a check of `/api/ps` stands while the chat slot keeps its model (only foreman loads
    ///     models through this target, so nothing but another client of Ollama itself can add one meanwhile).
    public init(
        target: any OllamaTarget,
        inventory: Inventory,
        declaredEmbedding: Set<String>,
        settleLimit: Duration = .seconds(2),
        trustFor: Duration = .zero,
        managesTarget: Bool = true,
        metrics: ForemanMetrics = .disabled,
        logger: Logger
    ) {
        self.trustFor = trustFor
        self.managesTarget = managesTarget
        self.metrics = metrics
        self.target = target
        self.inventory = inventory
        self.declaredEmbedding = declaredEmbedding
        self.settleLimit = settleLimit
        self.logger = logger
    }

    /// What foreman knows `model` to be.
    public func role(of model: String) async -> ModelClassifier.Role {
        ModelClassifier(declaredEmbedding: declaredEmbedding, capabilities: await inventory.snapshot.capabilities).role(of: model)
    }

    /// The inventory's models foreman takes for embedding-only models, sorted.
    public func embeddingModels() async -> [String] {
        let snapshot = await inventory.snapshot
        let classifier = ModelClassifier(declaredEmbedding: declaredEmbedding, capabilities: snapshot.capabilities)
        return snapshot.models.filter { classifier.role(of: $0) == .embeddingOnly }.sorted()
    }

    /// Before a generation on `model`: makes it the chat slot and unloads every other resident model but the
    /// embeddings slot's, unless `model` cannot generate (the target then refuses it without loading anything).
    ///
    /// - Throws: ``TargetError/unreachable(_:)`` when `/api/ps` could not be read because the target is down
    ///   (the worker then treats it like a failed send); `CancellationError`.
    ///
    /// Nothing is checked when the slot already holds `model` and the last check is younger than `trustFor`:
    /// back-to-back jobs on one model then pay no `/api/ps` round trip (ADR 0010) and no look at the inventory,
    /// since the model was found able to generate when it took the slot (ADR 0011).
    ///
    /// - Parameter numCtx: the request's `num_ctx`, and whether a request that sets none inherits one (see
    ///   ``ChatSlotRecord/sending(_:asked:inheriting:)``), read in the same visit.
    /// - Returns: the `num_ctx` to add to the request, or `nil` to send it as it is.
    @discardableResult
    public func prepareForGeneration(_ model: String, numCtx: (asked: Int?, inheriting: Bool)? = nil) async throws -> Int? {
        let name = ModelName.normalized(model)
        let now = ContinuousClock.now
        let (added, holds) = chatSlot.withLock { record in
            (numCtx.flatMap { record.sending(name, asked: $0.asked, inheriting: $0.inheriting) }, record.holds(name, now: now, trustFor: trustFor))
        }
        if holds { return added }
        guard await role(of: model) != .embeddingOnly else { return added }
        slots.chat = name
        try await unloadStrays()
        return added
    }

    /// What ``prepareForGeneration(_:numCtx:)`` would return for `model` when it has nothing to do or to record, read
    /// without visiting this actor; `nil` when it has. A run that finds the slot ready sends its request in its own
    /// turn of its loop, not behind everything queued there while it visited (ADR 0026).
    public nonisolated func preparedGeneration(_ model: String, numCtx: (asked: Int?, inheriting: Bool)? = nil) -> Int?? {
        let name = ModelName.normalized(model)
        let now = ContinuousClock.now
        return chatSlot.withLock { $0.unchanged(name, numCtx: numCtx, now: now, trustFor: trustFor) }
    }

    /// Makes `model` the embeddings slot and unloads every other resident model but the chat slot's; returns the
    /// model the slot held before. The caller makes sure no call is still running on the previous embeddings model.
    @discardableResult
    public func prepareForEmbed(_ model: String) async throws -> String? {
        let previous = slots.embed
        slots.embed = ModelName.normalized(model)
        try await unloadStrays()
        return previous
    }

    /// The target refused `model` after it took the embeddings slot: the slot goes back to `previous`, so a later
    /// unload does not remove a model for the sake of one the target does not have.
    public func revertEmbed(from model: String, to previous: String?) {
        guard slots.embed == ModelName.normalized(model) else { return }
        slots.embed = previous
        verifiedAt = nil
    }

    /// Whether `model` may take a slot: the inventory lists it, or no inventory has been read yet (the target
    /// then decides).
    public func mayHold(_ model: String) async -> Bool {
        let snapshot = await inventory.snapshot
        return snapshot.tagsBody == nil || snapshot.models.contains(ModelName.normalized(model))
    }

    private func unloadStrays() async throws {
        guard managesTarget else { return }
        verifiedAt = nil
        let checkedAt = ContinuousClock.now
        guard let resident = try await residentModels() else { return }
        let unloads = ResidencyPlanner.unloads(resident: resident, chatSlot: slots.chat, embedSlot: slots.embed)
        // Only the unloads the target accepted are waited for: a refused one would cost the whole settle limit
        // before every generation, for a model that is not going away.
        var accepted: [String] = []
        for model in unloads {
            if try await unload(model) { accepted.append(model) }
        }
        if !accepted.isEmpty { try await waitUntilGone(accepted) }
        verifiedAt = checkedAt
    }

    /// Asks the target to unload `model` now (what `ollama stop` sends); returns whether it accepted.
    private func unload(_ model: String) async throws -> Bool {
        var body = ByteBuffer()
        body.writeString(#"{"model":"# + JSONObjectWriter.quoted(model) + #","keep_alive":0}"#)
        unloadsSent += 1
        metrics.modelUnload()
        let response = try await target.send(TargetRequest(method: .POST, path: "/api/generate", body: body))
        let answer = try await response.body.collect(upTo: 1 << 20)
        if response.isSuccess {
            logger.info("model unloaded", metadata: ["model": "\(model)", "slots": "\(slots.chat ?? "-") + \(slots.embed ?? "-")"])
        } else {
            logger.warning(
                "target refused to unload a model",
                metadata: ["model": "\(model)", "status": "\(response.status)", "error": "\(ResponseAssembler.errorMessage(in: answer) ?? "")"]
            )
        }
        return response.isSuccess
    }

    /// Ollama unloads in the background: poll `/api/ps` (bounded) so the next load does not race the unload.
    private func waitUntilGone(_ models: [String]) async throws {
        let gone = Set(models.map(ModelName.normalized))
        let clock = ContinuousClock()
        let deadline = clock.now + settleLimit
        while clock.now < deadline {
            guard let resident = try await residentModels() else { return }
            if !resident.contains(where: { gone.contains(ModelName.normalized($0)) }) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        logger.warning("target still lists unloaded models", metadata: ["models": "\(models)"])
    }

    /// The names `/api/ps` lists, or `nil` when it answered but not usefully (residency is then left alone).
    private func residentModels() async throws -> [String]? {
        let response = try await target.send(TargetRequest(method: .GET, path: "/api/ps"))
        let body = try await response.body.collect(upTo: 4 << 20)
        guard response.isSuccess, let names = try? Inventory.models(fromTags: body) else {
            logger.warning("could not read /api/ps; residency left as it is", metadata: ["status": "\(response.status)"])
            return nil
        }
        return names.keys.sorted()
    }
}
