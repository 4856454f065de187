import ForemanDomain
import Foundation
import NIOCore

/// What one model can do, as `/api/show` reported it for one digest.
public struct ModelCapabilities: Sendable, Equatable {
    /// The digest `/api/tags` listed when `/api/show` was asked; a re-pull changes it and the entry is dropped.
    public var digest: String
    /// Ollama's capability names: `completion`, `embedding`, `tools`, `vision`, `thinking`, ...
    public var capabilities: Set<String>

    public init(digest: String, capabilities: Set<String>) {
        self.digest = digest
        self.capabilities = capabilities
    }

    /// Reads `capabilities` from an `/api/show` body; `nil` when the target does not report them (older Ollama).
    public static func parse(show body: ByteBuffer, digest: String) -> ModelCapabilities? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
            let names = object["capabilities"] as? [String]
        else { return nil }
        return ModelCapabilities(digest: digest, capabilities: Set(names))
    }
}

/// Tells embedding models from chat models (ADR 0008): `FOREMAN_EMBED_MODELS` first, then `/api/show` capabilities.
public struct ModelClassifier: Sendable {
    /// What foreman knows a model to be.
    public enum Role: Sendable, Equatable {
        /// It embeds and does not generate.
        case embeddingOnly
        /// It generates and does not embed.
        case chatOnly
        /// It does both, or foreman does not know.
        case either
    }

    /// Normalized names of the models `FOREMAN_EMBED_MODELS` declares embedding models.
    public var declaredEmbedding: Set<String>
    public var capabilities: [String: ModelCapabilities]

    public init(declaredEmbedding: Set<String>, capabilities: [String: ModelCapabilities]) {
        self.declaredEmbedding = Set(declaredEmbedding.map(ModelName.normalized))
        self.capabilities = capabilities
    }

    public func role(of model: String) -> Role {
        let name = ModelName.normalized(model)
        if declaredEmbedding.contains(name) { return .embeddingOnly }
        guard let known = capabilities[name]?.capabilities else { return .either }
        switch (known.contains("embedding"), known.contains("completion")) {
        case (true, false): return .embeddingOnly
        case (false, true): return .chatOnly
        default: return .either
        }
    }
}
