import ForemanEngine
import ForemanTarget
import Foundation
import NIOCore

/// The models foreman lists, as `/api/tags` and `/v1/models` both show them: the one provider's list as it sent it,
/// or every online provider's merged in the fleet's naming (ADR 0017). A provider that does not answer is hidden,
/// not forgotten: its models come back with it.
struct ModelCatalog: Sendable {
    let fleet: Fleet

    /// The `/api/tags` body.
    func tags() async throws -> ByteBuffer {
        guard fleet.namesProviders else { return try await tags(of: fleet.providers[0]) }
        var lists: [(provider: String, body: ByteBuffer)] = []
        for provider in fleet.providers {
            // Just started: the first poll decides, rather than an empty list.
            if await provider.inventory.snapshot.lastPollAt == nil { await provider.poller.refresh() }
            let snapshot = await provider.inventory.snapshot
            if snapshot.reachable, let body = snapshot.tagsBody { lists.append((provider.name, body)) }
        }
        return ModelListing.merge(lists)
    }

    private func tags(of provider: Provider) async throws -> ByteBuffer {
        var body = await provider.inventory.snapshot.tagsBody
        if body == nil, await provider.poller.refresh() {
            body = await provider.inventory.snapshot.tagsBody
        }
        guard let body else {
            let reason = await provider.inventory.snapshot.lastError ?? "no inventory yet"
            throw APIError(.badGateway, reason)
        }
        return body
    }

    /// The listed models as OpenAI's model objects (`id`, `object`, `created`, `owned_by`), in listing order, as
    /// Ollama's layer writes them: the id is the model's name, and `owned_by` its namespace.
    func openAIModels() async throws -> [[String: Any]] {
        let tags = try await tags()
        let listed = ((try? JSONSerialization.jsonObject(with: Data(tags.readableBytesView))) as? [String: Any])?["models"] as? [[String: Any]] ?? []
        return listed.compactMap { model in
            guard let id = (model["model"] as? String).flatMap({ $0.isEmpty ? nil : $0 }) ?? (model["name"] as? String) else { return nil }
            return ["id": id, "object": "model", "created": NativeAnswerAsOpenAI.unixTime(model["modified_at"]), "owned_by": Self.namespace(of: id)]
        }
    }

    /// The namespace of a model name as Ollama parses it: `host/namespace/model`, `namespace/model`, or `library`.
    static func namespace(of id: String) -> String {
        let parts = id.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count >= 2 ? String(parts[parts.count - 2]) : "library"
    }
}
