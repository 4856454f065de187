import ForemanDomain
import ForemanStore
import ForemanTarget
import NIOCore

/// Ollama's model management through foreman (ADR 0023): which box a call goes to, the guard on deleting a model in
/// use, and the inventory polled again once a call has changed what a box holds.
public struct ModelManager: Sendable {
    let fleet: Fleet
    let store: any JobStore

    public init(fleet: Fleet, store: any JobStore) {
        self.fleet = fleet
        self.store = store
    }

    /// Whether model id `id` names a provider (`box/model`).
    public func namesProvider(_ id: String) -> Bool { fleet.name(id).provider != nil }

    /// The provider `id` names, if it names one.
    public func provider(of id: String) -> String? { fleet.name(id).provider }

    /// The model as its box names it: `id` without the provider it names.
    public func boxName(_ id: String) -> String { fleet.name(id).model }

    /// Where a call goes: the provider, its management client, and the model as the box names it.
    public struct Route: Sendable {
        public let provider: Provider
        public let target: ModelManagementTarget
        /// The model as its provider names it.
        public let model: String
        /// Whether the caller's name named the provider: the body's names are then rewritten for the box.
        public let named: Bool
    }

    /// The box a `verb` call about model `id` goes to. `existing`: the call is about a model that exists (a delete,
    /// a push, a copy's source, a create's base), rather than one it makes.
    ///
    /// - Throws: ``ModelManagementError``.
    public func route(_ id: String, verb: String, existing: Bool) async throws -> Route {
        let name = fleet.name(id)
        var candidates: [ModelRoute.ManagingCandidate] = []
        let normalized = ModelName.normalized(name.model)
        for provider in fleet.providers {
            let snapshot = await provider.inventory.snapshot
            // A box whose inventory has not been read yet (foreman just started) may have the model: it stays a
            // candidate, so a bare name is not sent to the one box that happened to answer first.
            let mayHave = snapshot.models.contains(normalized) || snapshot.lastSuccessAt == nil
            candidates.append(.init(provider: provider.name, manages: provider.management != nil, hasModel: mayHave))
        }
        switch ModelRoute.manage(name, existing: existing, among: candidates) {
        case .provider(let chosen):
            guard let provider = fleet.provider(named: chosen), let target = provider.management else {
                throw ModelManagementError.cannotManage(provider: chosen, verb: verb)
            }
            return Route(provider: provider, target: target, model: name.model, named: name.provider != nil)
        case .cannotManage(let provider):
            throw ModelManagementError.cannotManage(provider: provider, verb: verb)
        case .notFound:
            throw ModelManagementError.notFound(id)
        case .chooseAmong(let providers):
            if providers.isEmpty { throw ModelManagementError.noProviderManages(verb: verb) }
            throw ModelManagementError.chooseProvider(model: id, among: providers)
        }
    }

    /// The box a blob goes to: the provider named (`X-Foreman-Provider`), else the only one.
    ///
    /// - Throws: ``ModelManagementError``.
    public func blobRoute(provider named: String?) throws -> Route {
        let provider: Provider
        if let named {
            guard let found = fleet.provider(named: named) else { throw ModelManagementError.notFound(named) }
            provider = found
        } else {
            guard fleet.providers.count == 1, let only = fleet.providers.first else {
                throw ModelManagementError.blobNeedsProvider(among: fleet.providers.filter { $0.management != nil }.map(\.name))
            }
            provider = only
        }
        guard let target = provider.management else { throw ModelManagementError.cannotManage(provider: provider.name, verb: "store blobs for") }
        return Route(provider: provider, target: target, model: "", named: named != nil)
    }

    /// Refuses to delete a model that generations queued or running on the box still need.
    ///
    /// - Throws: ``ModelManagementError/busy(model:provider:generations:)``.
    public func checkUnused(_ route: Route) async throws {
        let model = ModelName.normalized(route.model)
        let inStore = try await store.generationsInFlight(model: model, provider: route.provider.name)
        let native = await route.provider.generationWorker.nativeCalls(model: model)
        let generations = inStore + native
        if generations > 0 { throw ModelManagementError.busy(model: route.model, provider: route.provider.name, generations: generations) }
    }

    /// Polls the box's inventory now: a call changed what it holds.
    public func refresh(_ route: Route) async {
        _ = await route.provider.poller.refresh()
    }
}
