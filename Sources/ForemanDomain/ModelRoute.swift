/// Where a model id sends a job in a fleet of providers (ADR 0017): which provider, and the model as it names it.
///
/// Pure: it sees the configured providers and what each one is known to have, and decides.
public enum ModelRoute {
    /// A model id, split.
    public struct Name: Sendable, Equatable {
        /// The provider the id names, when its first segment is a configured provider's name.
        public var provider: String?
        /// The model as its provider names it; for a bare id, the whole id.
        public var model: String

        public init(provider: String?, model: String) {
            self.provider = provider
            self.model = model
        }
    }

    /// What routing knows of one provider, for one model.
    public struct Candidate: Sendable, Equatable {
        public var provider: String
        /// It answered its last poll.
        public var online: Bool
        /// Its last inventory lists the model.
        public var hasModel: Bool
        /// The model is loaded there now.
        public var resident: Bool
        /// Jobs waiting and running there, per generation it runs at once.
        public var load: Double

        public init(provider: String, online: Bool, hasModel: Bool, resident: Bool = false, load: Double = 0) {
            self.provider = provider
            self.online = online
            self.hasModel = hasModel
            self.resident = resident
            self.load = load
        }
    }

    /// The decision.
    public enum Decision: Sendable, Equatable {
        /// Send the job to this provider (it may be away: the job then waits for it).
        case provider(String)
        /// No provider has the model, or the provider named does not: Ollama's 404.
        case notFound
    }

    /// Splits `id`: `provider/model` when the first segment names one of `providers`, else a bare name, whole (so
    /// `library/llama3.2` and `hf.co/org/repo` stay bare).
    public static func name(_ id: String, providers: Set<String>) -> Name {
        guard let slash = id.firstIndex(of: "/") else { return Name(provider: nil, model: id) }
        let first = String(id[..<slash])
        guard providers.contains(first) else { return Name(provider: nil, model: id) }
        return Name(provider: first, model: String(id[id.index(after: slash)...]))
    }

    /// Where `name` goes among `candidates`, listed by name (ties go to the first).
    ///
    /// - A provider named goes there: even while it is away (the job waits), but not when it is online and does not
    ///   have the model.
    /// - A bare name goes to an online provider that has the model: where it is resident first, then the least
    ///   loaded, then the first listed. With none online, to the first listed that has it, to wait for it.
    public static func decide(_ name: Name, among candidates: [Candidate]) -> Decision {
        if let named = name.provider {
            guard let candidate = candidates.first(where: { $0.provider == named }) else { return .notFound }
            return candidate.online && !candidate.hasModel ? .notFound : .provider(named)
        }
        let online = candidates.filter { $0.online && $0.hasModel }
        let resident = online.filter(\.resident)
        // `min(by:)` keeps the first of equals: ties go to the provider listed first.
        if let best = (resident.isEmpty ? online : resident).min(by: { $0.load < $1.load }) {
            return .provider(best.provider)
        }
        if let away = candidates.first(where: \.hasModel) { return .provider(away.provider) }
        return .notFound
    }
}
