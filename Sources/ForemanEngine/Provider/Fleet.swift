import ForemanDomain
import Foundation
import NIOCore

/// Every provider foreman fronts, and where a model id sends a job among them (ADR 0017).
///
/// Without a providers file the fleet is the one provider of `FOREMAN_OLLAMA_URL`, and every id is a bare name
/// that goes to it, checked as it always was.
public struct Fleet: Sendable {
    /// Sorted by name: routing's ties go to the first.
    public let providers: [Provider]
    /// Whether ids may name a provider (a providers file was given).
    public let namesProviders: Bool
    private let byName: [String: Provider]

    public init(providers: [Provider], namesProviders: Bool) {
        self.providers = providers.sorted { $0.name < $1.name }
        self.namesProviders = namesProviders
        byName = Dictionary(providers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Where a model id goes.
    public struct Route: Sendable {
        public let provider: Provider
        /// The model as the provider names it.
        public let model: String
        /// Whether the id named the provider (`provider/model`): the job is bound to it, and the body's `model` is
        /// rewritten to ``model`` before it reaches the box.
        public let bound: Bool

        /// A caller's `body` as the box takes it: with the box's model name when the id named the provider, byte for
        /// byte otherwise.
        public func body(_ body: ByteBuffer) -> ByteBuffer {
            bound ? ByteBuffer(bytes: ModelField.replacing(in: body.readableBytesView, with: model)) : body
        }
    }

    public func provider(named name: String) -> Provider? {
        byName[name]
    }

    /// `id` split into its provider, when it names one, and the model.
    public func name(_ id: String) -> ModelRoute.Name {
        namesProviders ? ModelRoute.name(id, providers: Set(byName.keys)) : ModelRoute.Name(provider: nil, model: id)
    }

    /// The provider `id` goes to, by ``ModelRoute/decide(_:among:)``. A model no provider lists gets one fresh poll
    /// of the providers it may be on (it may just have been pulled) before it is refused.
    ///
    /// - Parameter requireKnown: for the one provider without a providers file, whether the model must be listed
    ///   (generations) or the target decides (embeddings, as before fleets).
    /// - Throws: ``JobServiceError/modelNotFound(_:)``.
    public func route(_ id: String, requireKnown: Bool = true) async throws -> Route {
        let name = self.name(id)
        if !namesProviders, let only = providers.first {
            if requireKnown { try await ModelCheck(inventory: only.inventory, poller: only.poller).requireKnown(id) }
            return Route(provider: only, model: id, bound: false)
        }
        var decision = await decide(name)
        if decision == .notFound {
            let asked = name.provider.flatMap(provider(named:)).map { [$0] } ?? providers
            await withTaskGroup(of: Void.self) { polls in
                for provider in asked { polls.addTask { await provider.poller.refreshUnlessRecent() } }
            }
            decision = await decide(name)
        }
        if case .provider(let chosen) = decision, let provider = provider(named: chosen) {
            return Route(provider: provider, model: name.model, bound: name.provider != nil)
        }
        // Only an inventory can prove a model absent: before any provider has answered, the first one decides.
        if let first = providers.first, await !anyInventoryKnown() {
            return Route(provider: first, model: name.model, bound: false)
        }
        throw JobServiceError.modelNotFound(id)
    }

    private func decide(_ name: ModelRoute.Name) async -> ModelRoute.Decision {
        let model = ModelName.normalized(name.model)
        var candidates: [ModelRoute.Candidate] = []
        for provider in providers {
            let snapshot = await provider.inventory.snapshot
            let slots = await provider.residency.slots
            candidates.append(
                ModelRoute.Candidate(
                    provider: provider.name,
                    online: snapshot.reachable,
                    hasModel: snapshot.models.contains(model),
                    resident: slots.chat == model || slots.embed == model,
                    load: Double(provider.generationWorker.load) / Double(provider.concurrency)
                )
            )
        }
        return ModelRoute.decide(name, among: candidates)
    }

    private func anyInventoryKnown() async -> Bool {
        for provider in providers where await provider.inventory.snapshot.tagsBody != nil { return true }
        return false
    }
}
